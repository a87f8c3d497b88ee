"""Latent tokenizer: shapes, save/load, training on world frames, and VDT running on its latents."""

import numpy as np
import pytest
import torch

from minivdt import tokenizer as tk
from minivdt.data import BallClips, to_tensor
from minivdt.diffusion import make_scheduler, training_loss
from minivdt.masks import make_mask
from minivdt.model import VDT

TINY = dict(block_out_channels=(16, 32))  # 4x fewer FLOPs than the default, same 2x downsampling
TRAIN = dict(steps=50, batch_size=8, lr=2e-3, seed=0, progress=False, **TINY)


def _mse(vae, video):
    return ((tk.decode_video(vae, tk.encode_video(vae, video)) - video) ** 2).mean().item()


@pytest.fixture(scope="module")
def frames():
    """320 real frames: 4 clips x 5 scenarios x 16 frames, 32 x 32."""
    return BallClips("train", num_clips=4).get_batch().frames


@pytest.fixture(scope="module")
def val_video():
    return to_tensor(BallClips("val", num_clips=1).get_batch().frames)  # (5, 16, 3, 32, 32)


@pytest.fixture(scope="module")
def trained(frames):
    return tk.train_tokenizer(frames, **TRAIN)


def test_encode_decode_shapes_and_2x_downsampling():
    vae = tk.make_tokenizer()
    assert tk.downsample_factor(vae) == 2
    video = torch.rand(2, 3, 3, 32, 32) * 2 - 1
    latents = tk.encode_video(vae, video)
    assert latents.shape == (2, 3, 4, 16, 16)
    assert tk.decode_video(vae, latents).shape == (2, 3, 3, 32, 32)
    sampled = tk.encode_video(vae, video, sample=True, generator=torch.Generator().manual_seed(0))
    again = tk.encode_video(vae, video, sample=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampled, again) and not torch.equal(sampled, latents)
    # frames are encoded independently: the (b f) folding does not mix clips or frames
    assert torch.allclose(tk.encode_video(vae, video[1:, 2:]), latents[1:, 2:], atol=1e-5)


def test_training_lowers_reconstruction_error(trained, val_video):
    vae, history = trained
    torch.manual_seed(TRAIN["seed"])
    untrained = tk.make_tokenizer(**TINY).eval()
    before, after = _mse(untrained, val_video), _mse(vae, val_video)
    print(f"held-out reconstruction MSE: step 0 {before:.4f}, step {TRAIN['steps']} {after:.4f} "
          f"(ratio {after / before:.3f}); train batch MSE {history['mse'][0]:.4f} -> {history['mse'][-1]:.4f}, "
          f"KL {history['kl'][0]:.3f} -> {history['kl'][-1]:.3f}; scaling_factor {vae.config.scaling_factor:.3f}")
    assert len(history["mse"]) == len(history["kl"]) == TRAIN["steps"]
    assert after < 0.1 * before  # measured 0.021 (0.84 -> 0.018 MSE on [-1, 1] pixels)
    # the data-derived scaling_factor makes the latents roughly unit-variance
    assert 0.7 < tk.encode_video(vae, val_video).std().item() < 1.4


def test_training_is_deterministic(frames):
    args = dict(TRAIN, steps=2)
    (vae_a, hist_a), (vae_b, hist_b) = tk.train_tokenizer(frames, **args), tk.train_tokenizer(frames, **args)
    assert hist_a == hist_b
    assert all(torch.equal(a, b) for a, b in zip(vae_a.state_dict().values(), vae_b.state_dict().values()))
    _, hist_c = tk.train_tokenizer(frames, **dict(args, seed=1))
    assert hist_c != hist_a


def test_save_load_round_trip(trained, val_video, tmp_path):
    vae, _ = trained
    tk.save_tokenizer(vae, tmp_path / "tok")
    loaded = tk.load_tokenizer(tmp_path / "tok")
    assert loaded.config.scaling_factor == vae.config.scaling_factor
    assert tk.latent_geometry(tmp_path / "tok") == (4, 2)
    latents = tk.encode_video(vae, val_video[:2])
    assert torch.equal(tk.encode_video(loaded, val_video[:2]), latents)
    assert torch.equal(tk.decode_video(loaded, latents), tk.decode_video(vae, latents))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        tk.load_tokenizer(tmp_path / "missing")
    tk.save_tokenizer(tk.make_tokenizer(**TINY), tmp_path / "tok")
    (tmp_path / "tok" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="corrupt"):
        tk.load_tokenizer(tmp_path / "tok")


def test_bad_inputs():
    vae = tk.make_tokenizer(**TINY)
    with pytest.raises(ValueError, match="video"):
        tk.encode_video(vae, torch.zeros(2, 3, 32, 32))  # no frame axis
    with pytest.raises(ValueError, match="video"):
        tk.encode_video(vae, torch.zeros(1, 2, 4, 32, 32))  # 4 channels
    with pytest.raises(ValueError, match="divisible"):
        tk.encode_video(vae, torch.zeros(1, 2, 3, 31, 32))
    with pytest.raises(ValueError, match="latents"):
        tk.decode_video(vae, torch.zeros(1, 2, 3, 16, 16))
    with pytest.raises(ValueError, match="norm_num_groups"):
        tk.make_tokenizer(block_out_channels=(12, 24))
    with pytest.raises(TypeError, match="videos"):
        tk.train_tokenizer(np.zeros((2, 4, 32, 32, 3), np.float32), steps=1)
    with pytest.raises(ValueError, match="videos"):
        tk.train_tokenizer(np.zeros((2, 4, 32, 32), np.uint8), steps=1)
    with pytest.raises(ValueError, match="steps"):
        tk.train_tokenizer(np.zeros((2, 4, 32, 32, 3), np.uint8), steps=-1)


def test_vdt_trains_on_latents(trained, val_video):
    """The paper's pipeline end to end: video -> latents (B, 16, 4, 16, 16) -> patches -> VDT masked loss."""
    vae, _ = trained
    latents = tk.encode_video(vae, val_video[:2])  # (2, 16, 4, 16, 16)
    assert latents.shape == (2, 16, 4, 16, 16)
    torch.manual_seed(0)
    model = VDT(input_size=16, in_channels=4, patch_size=2, hidden_size=32, depth=1, num_heads=2)
    generator = torch.Generator().manual_seed(0)
    pixel_mask = make_mask("predict", 2, 16, 32, 32, num_given=8, patch_size=4, generator=generator)
    mask = tk.downsample_mask(pixel_mask, 2)  # (2, 16, 1, 16, 16)
    assert torch.equal(mask[:, :, 0, 0, 0], pixel_mask[:, :, 0, 0, 0])
    loss = training_loss(model, latents, mask, make_scheduler("ddpm"), generator=generator)
    loss.backward()
    assert torch.isfinite(loss) and model.final_layer.linear.weight.grad is not None
    decoded = tk.decode_video(vae, latents)
    assert decoded.shape == val_video[:2].shape


def test_downsample_mask_max_pools():
    mask = torch.zeros(1, 1, 1, 4, 4)
    mask[..., 1, 2] = 1  # one generated pixel makes its whole latent cell generated
    expected = torch.zeros(1, 1, 1, 2, 2)
    expected[..., 0, 1] = 1
    assert torch.equal(tk.downsample_mask(mask, 2), expected)


def test_train_vdt_in_latent_space(trained, tmp_path):
    from minivdt.training import make_train_config, train

    tk.save_tokenizer(trained[0], tmp_path / "tok")
    cfg = make_train_config("smoke", tokenizer=str(tmp_path / "tok"), max_steps=2, out_dir=str(tmp_path / "run"))
    kwargs = cfg.model_kwargs()
    assert (kwargs["input_size"], kwargs["in_channels"]) == (16, 4)
    result = train(cfg, progress=False)
    assert result.step == 2 and all(np.isfinite(result.losses))
    assert (tmp_path / "run" / "checkpoint" / "ema" / "config.json").is_file()
