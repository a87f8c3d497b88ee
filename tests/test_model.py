import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from minivdt.masks import make_mask
from minivdt.model import PRESETS, VDT, VDTBlock, VDTConfig, count_flops, get_config, modulate

SMALL = dict(input_size=(8, 12), patch_size=4, in_channels=3, num_frames=4, hidden_size=32, depth=2, num_heads=2)
MODES = list(itertools.product(("concat", "adaln", "cross_attn"), ("factorised", "joint")))


def small_model(**overrides):
    torch.manual_seed(0)
    return VDT(**{**SMALL, **overrides})


def inputs(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, 3, 8, 12, generator=g)
    video = torch.randn(batch, 4, 3, 8, 12, generator=g)
    mask = make_mask("predict", batch, 4, 8, 12, num_given=2, patch_size=4)
    return x, torch.tensor([10, 500][:batch]), video * (1 - mask), mask


@torch.no_grad()
def perturb(model, scale=0.05):
    """Move every parameter off its (partly zero) init so all paths carry signal."""
    g = torch.Generator().manual_seed(1)
    for p in model.parameters():
        p.add_(scale * torch.randn(p.shape, generator=g))


def test_config_validation_names_field():
    with pytest.raises(ValueError, match="cond_mode"):
        VDTConfig(cond_mode="film")
    with pytest.raises(ValueError, match="attention_mode"):
        VDTConfig(attention_mode="sparse")
    with pytest.raises(ValueError, match="prediction_type"):
        VDTConfig(prediction_type="x0")
    with pytest.raises(ValueError, match="hidden_size"):
        VDTConfig(hidden_size=130, num_heads=4)
    with pytest.raises(ValueError, match="patch_size"):
        VDTConfig(input_size=30, patch_size=4)
    with pytest.raises(ValueError, match="num_frames"):
        VDTConfig(num_frames=0)
    with pytest.raises(ValueError, match="name"):
        get_config("VDT-XXL")
    assert get_config("cpu-tiny", cond_mode="adaln").cond_mode == "adaln"
    assert PRESETS["cpu-tiny"].cond_mode == "concat"  # get_config copies


def test_official_submodule_names():
    names = dict(small_model().named_modules())
    for name in ("x_embedder", "t_embedder", "blocks.0.attn", "blocks.0.temporal_attn", "blocks.0.mlp",
                 "blocks.1.adaLN_modulation", "final_layer"):
        assert name in names
    assert "pos_embed" not in small_model().state_dict()  # fixed buffers are not saved


@pytest.mark.parametrize("cond_mode,attention_mode", MODES)
def test_zero_output_and_identity_blocks_at_init(cond_mode, attention_mode):
    model = small_model(cond_mode=cond_mode, attention_mode=attention_mode)
    x, t, cond, mask = inputs()
    assert torch.equal(model(x, t, cond, mask), torch.zeros_like(x))
    tokens, c, context = torch.randn(2, 4, 6, 32), torch.randn(2, 32), torch.randn(2, 24, 32)
    for block in model.blocks:
        assert torch.equal(block(tokens, c, context), tokens)


@pytest.mark.parametrize("cond_mode,attention_mode", MODES)
def test_forward_backward_and_condition_matters(cond_mode, attention_mode):
    model = small_model(cond_mode=cond_mode, attention_mode=attention_mode)
    perturb(model)
    x, t, cond, mask = inputs()
    out = model(x, t, cond, mask)
    assert out.shape == x.shape
    out.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert not torch.allclose(model(x, t, cond * 0.5 + 0.3 * (1 - mask), mask), out)  # condition is used
        assert not torch.allclose(model(x, t + 100, cond, mask), out)  # timestep is used
        x_other = torch.where(mask.bool(), x, torch.randn_like(x))
        torch.testing.assert_close(model(x_other, t, cond, mask), out)  # x at given positions is ignored


def test_manual_attention_model_matches_fused():
    model = small_model()
    perturb(model)
    x, t, cond, mask = inputs()
    with torch.no_grad():
        fast = model(x, t, cond, mask)
        for m in model.modules():
            if hasattr(m, "fused"):
                m.fused = False
        torch.testing.assert_close(model(x, t, cond, mask), fast, atol=1e-5, rtol=1e-4)


def test_save_pretrained_round_trip(tmp_path):
    model = small_model(cond_mode="cross_attn", prediction_type="v_prediction")
    perturb(model)
    model.save_pretrained(tmp_path)
    loaded = VDT.from_pretrained(tmp_path, low_cpu_mem_usage=False)
    assert loaded.config.cond_mode == "cross_attn" and loaded.cfg.input_size == (8, 12)
    x, t, cond, mask = inputs()
    with torch.no_grad():
        assert torch.equal(loaded(x, t, cond, mask), model(x, t, cond, mask))


def test_bad_inputs_name_the_argument():
    model = small_model()
    x, t, cond, mask = inputs()
    with pytest.raises(ValueError, match="x must have shape"):
        model(x[0], t, cond, mask)  # wrong ndim
    with pytest.raises(ValueError, match="x must have shape"):
        model(x[:, :3], t, cond, mask)  # wrong number of frames
    with pytest.raises(ValueError, match="x must have shape"):
        model(x[..., :8], t, cond, mask)  # wrong size
    with pytest.raises(ValueError, match="x must have shape"):
        model(x[:, :, :1], t, cond, mask)  # wrong channels
    with pytest.raises(ValueError, match="cond"):
        model(x, t, cond[:1], mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        model(x, t, cond, mask.expand(-1, -1, 3, -1, -1))
    with pytest.raises(ValueError, match="timesteps"):
        model(x, torch.tensor([1, 2, 3]), cond, mask)
    assert model(x, 7, cond, mask).shape == x.shape  # scalar timestep broadcasts


def test_bf16_autocast_forward():
    model = small_model()
    perturb(model)
    x, t, cond, mask = inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, t, cond, mask)
    assert out.shape == x.shape and torch.isfinite(out.float()).all()
    with torch.no_grad():
        torch.testing.assert_close(out.float(), model(x, t, cond, mask), atol=0.1, rtol=0.1)


@pytest.mark.parametrize("cond_mode,attention_mode", MODES)
def test_count_flops_matches_torch_counter(cond_mode, attention_mode):
    model = small_model(cond_mode=cond_mode, attention_mode=attention_mode, fused_attn=False)
    x, t, cond, mask = inputs()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, t, cond, mask)
    assert count_flops(model.cfg, batch=2) == pytest.approx(counter.get_total_flops(), rel=1e-6)
    assert model.flops(batch=2) == count_flops(model.cfg, batch=2)


def test_cpu_tiny_preset_size():
    model = VDT.from_preset("cpu-tiny")
    assert 1e6 < model.num_parameters() < 3e6
    assert count_flops(model.cfg) < 5e9


def test_modulate_and_block_shapes():
    assert torch.equal(modulate(torch.ones(2), torch.tensor(1.0), torch.tensor(1.0)), torch.full((2,), 3.0))
    block = VDTBlock(32, 2, attention_mode="factorised")
    assert block(torch.randn(1, 3, 5, 32), torch.randn(1, 32)).shape == (1, 3, 5, 32)
