import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn

from minivdt.diffusion import (PREDICTION_TYPES, generate, loss_weights, make_scheduler, predict_x0, sample,
                               sample_timesteps, target_for, training_loss, velocity)
from minivdt.data import to_uint8
from minivdt.masks import make_mask
from minivdt.model import VDT

SMALL = dict(input_size=8, patch_size=4, num_frames=4, hidden_size=32, depth=1, num_heads=2)


class Recorder(nn.Module):
    """A fake model returning a fixed output and recording its inputs."""

    def __init__(self, output):
        super().__init__()
        self.output = nn.Parameter(output.clone())
        self.calls = []

    def forward(self, x, timesteps, cond, mask):
        self.calls.append((x, timesteps, cond, mask))
        return self.output * 1.0


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(2, 4, 3, 8, 8, generator=g) * 2 - 1
    mask = make_mask("predict", 2, 4, 8, 8, num_given=2, patch_size=4)
    return x0, mask


def test_make_scheduler():
    assert isinstance(make_scheduler("ddpm"), DDPMScheduler)
    assert isinstance(make_scheduler("ddim", "v_prediction"), DDIMScheduler)
    assert make_scheduler("dpm", num_train_timesteps=100).config.num_train_timesteps == 100
    assert isinstance(make_scheduler("dpm"), DPMSolverMultistepScheduler)
    with pytest.raises(ValueError, match="kind must be one of"):
        make_scheduler("euler")
    with pytest.raises(ValueError, match="prediction_type"):
        make_scheduler("ddpm", "x_start")


def test_add_noise_and_velocity_match_formula():
    scheduler = make_scheduler("ddpm")
    x0, noise = torch.randn(3, 2, 3, 4, 4), torch.randn(3, 2, 3, 4, 4)
    timesteps = torch.tensor([0, 500, 999])
    alpha_bar = scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(scheduler.add_noise(x0, noise, timesteps),
                               alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise)
    torch.testing.assert_close(velocity(scheduler, x0, noise, timesteps),
                               scheduler.get_velocity(x0, noise, timesteps))


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
def test_masked_loss_ignores_given_positions(prediction_type):
    scheduler = make_scheduler("ddpm", prediction_type)
    x0, mask = data()
    model = Recorder(torch.randn_like(x0))
    loss = training_loss(model, x0, mask, scheduler, torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.ndim == 0
    assert (model.output.grad * (1 - mask)).abs().max() == 0  # no gradient at given positions
    assert (model.output.grad * mask).abs().max() > 0
    x_in, timesteps, cond, mask_in = model.calls[0]
    assert torch.equal(x_in * (1 - mask), x0 * (1 - mask))  # given positions clean in the model input
    assert torch.equal(cond, x0 * (1 - mask)) and torch.equal(mask_in, mask)
    with torch.no_grad():  # changing the output at given positions changes nothing
        model.output.add_(100 * (1 - mask))
    assert training_loss(model, x0, mask, scheduler, torch.Generator().manual_seed(0)) == loss


def test_loss_value_is_mean_over_generated_elements():
    scheduler = make_scheduler("ddpm", "epsilon")  # an ε target: the loss of a zero prediction is the noise
    x0, mask = data()
    g = torch.Generator().manual_seed(0)
    torch.randint(0, 1000, (2,), generator=g)
    noise = torch.randn(x0.shape, generator=g)  # the same draws as training_loss
    model = Recorder(torch.zeros_like(x0))
    loss = training_loss(model, x0, mask, scheduler, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loss, noise[mask.expand_as(x0).bool()].square().mean())


def test_loss_checks_prediction_type():
    model = VDT(**SMALL, prediction_type="v_prediction")
    with pytest.raises(ValueError, match="prediction_type"):
        training_loss(model, *data(), make_scheduler("ddpm", "epsilon"))


@pytest.mark.parametrize("kind", ["ddpm", "ddim", "dpm"])
def test_sampler_returns_given_positions_exactly(kind):
    torch.manual_seed(0)
    model = VDT(**SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x0, mask = data()
    out = sample(model, x0, mask, make_scheduler(kind), num_inference_steps=4,
                 generator=torch.Generator().manual_seed(0))
    assert out.shape == x0.shape and torch.isfinite(out).all()
    given = (mask == 0).expand_as(x0)
    assert torch.equal(out[given], x0[given])
    assert not torch.allclose(out[~given], x0[~given])


def test_sampler_reinjects_condition_every_step():
    x0, mask = data()
    model = Recorder(torch.zeros_like(x0))
    sample(model, x0, mask, make_scheduler("ddim"), num_inference_steps=3)
    assert len(model.calls) == 3
    for x_in, timesteps, cond, _ in model.calls:
        assert torch.equal(x_in * (1 - mask), x0 * (1 - mask)) and timesteps.shape == (2,)
    assert model.calls[0][1][0] == 999  # trailing spacing starts at the noisiest step


def test_generate_is_seeded_and_keeps_the_given_frames():
    torch.manual_seed(0)
    model = VDT(**SMALL)
    frames = to_uint8(data()[0])  # (B, F, H, W, 3)
    a = generate(model, frames, "image_to_video", steps=2, seed=1)
    b = generate(model, frames, "image_to_video", steps=2, seed=1)
    assert np.array_equal(a, b) and np.array_equal(a[:, 0], frames[:, 0])


def test_one_default_prediction_type_and_the_model_decides_its_sampler():
    from minivdt.diffusion import DEFAULT_PREDICTION_TYPE, scheduler_for
    from minivdt.model import VDTConfig
    from minivdt.train_config import TrainConfig

    assert VDTConfig().prediction_type == TrainConfig().prediction_type == DEFAULT_PREDICTION_TYPE
    assert make_scheduler("ddpm").config.prediction_type == DEFAULT_PREDICTION_TYPE
    model = VDT(**{**SMALL, "prediction_type": "v_prediction"})
    assert scheduler_for(model, "ddim").config.prediction_type == "v_prediction"


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
def test_each_prediction_type_trains_on_its_own_target_and_recovers_x0(prediction_type):
    """The loss target is ε, v or x_0 as asked (a v target for "sample" would train the wrong thing silently), and
    predict_x0 inverts it: feeding the exact target back gives x_0 at every t."""
    scheduler = make_scheduler("ddpm", prediction_type)
    x0, noise = torch.randn(3, 2, 3, 4, 4), torch.randn(3, 2, 3, 4, 4)
    timesteps = torch.tensor([0, 500, 999])
    target = target_for(scheduler, x0, noise, timesteps)
    expected = {"epsilon": noise, "v_prediction": velocity(scheduler, x0, noise, timesteps), "sample": x0}
    torch.testing.assert_close(target, expected[prediction_type])
    x_t = scheduler.add_noise(x0, noise, timesteps)
    torch.testing.assert_close(predict_x0(scheduler, target, x_t, timesteps), x0, atol=2e-3, rtol=1e-3)
    # and it is the target training_loss uses: an exact prediction has zero loss
    x0_, mask = data()
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 1000, (2,), generator=g)
    eps = torch.randn(x0_.shape, generator=g)
    model = Recorder(target_for(scheduler, x0_, eps, t))
    assert training_loss(model, x0_, mask, scheduler, torch.Generator().manual_seed(0)) < 1e-10


def test_timestep_sampling():
    g = torch.Generator().manual_seed(0)
    uniform = sample_timesteps(20000, 1000, "uniform", g)
    high = sample_timesteps(20000, 1000, "high_noise", g)
    assert uniform.min() >= 0 and uniform.max() <= 999 and high.min() >= 0 and high.max() <= 999
    assert abs((uniform >= 750).float().mean() - 0.25) < 0.02
    assert abs((high >= 750).float().mean() - 0.5) < 0.02  # t >= 750 iff u^2 < 1/4
    assert (sample_timesteps(5, 1000, "max") == 999).all()
    with pytest.raises(ValueError, match="timestep_sampling"):
        sample_timesteps(5, 1000, "cosine")


def test_min_snr_weights_put_min_snr_gamma_on_the_x0_error():
    """For every parameterisation, weight * (pred - target)² equals min(SNR, γ) * (x̂_0 - x_0)²."""
    timesteps = torch.tensor([10, 300, 600, 990])
    x0, noise = torch.randn(4, 1, 1, 2, 2), torch.randn(4, 1, 1, 2, 2)
    wrong_x0 = x0 + 0.3
    alpha_bar = make_scheduler("ddpm").alphas_cumprod[timesteps]
    snr = alpha_bar / (1 - alpha_bar)
    for kind in PREDICTION_TYPES:
        scheduler = make_scheduler("ddpm", kind)
        x_t = scheduler.add_noise(x0, noise, timesteps)
        # the prediction whose x̂_0 is wrong_x0: the target of (wrong_x0, the noise implied by x_t)
        implied_noise = (x_t - alpha_bar.sqrt().view(-1, 1, 1, 1, 1) * wrong_x0) / (1 - alpha_bar).sqrt().view(-1, 1, 1, 1, 1)
        prediction = target_for(scheduler, wrong_x0, implied_noise, timesteps)
        target = target_for(scheduler, x0, noise, timesteps)
        weighted = loss_weights(scheduler, timesteps, "min_snr") * (prediction - target).square().mean((1, 2, 3, 4))
        torch.testing.assert_close(weighted, snr.clamp(max=5.0) * 0.09, rtol=1e-3, atol=1e-6)
    assert (loss_weights(make_scheduler("ddpm"), timesteps, "none") == 1).all()


@pytest.mark.parametrize("kind", ["ddpm", "ddim", "dpm"])
def test_every_sampler_starts_from_pure_noise(kind):
    scheduler = make_scheduler(kind)
    scheduler.set_timesteps(25)
    assert scheduler.timesteps[0] == 999  # diffusers' DDPM default ("leading") would start at 960


def test_validation_loss_is_the_same_problem_every_call():
    from minivdt.diffusion import validation_loss

    torch.manual_seed(0)
    model = VDT(input_size=16, num_frames=4, hidden_size=32, depth=1, num_heads=2)
    x0 = torch.rand(2, 4, 3, 16, 16) * 2 - 1
    mask = make_mask("predict", 2, 4, 16, 16, num_given=2, patch_size=4)
    scheduler = make_scheduler()
    first = validation_loss(model, x0, mask, scheduler, repeats=2)
    assert first == validation_loss(model, x0, mask, scheduler, repeats=2) and first > 0
