import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn

from minivdt.diffusion import make_scheduler, predict, sample, training_loss, velocity
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
        make_scheduler("ddpm", "sample")


def test_add_noise_and_velocity_match_formula():
    scheduler = make_scheduler("ddpm")
    x0, noise = torch.randn(3, 2, 3, 4, 4), torch.randn(3, 2, 3, 4, 4)
    timesteps = torch.tensor([0, 500, 999])
    alpha_bar = scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(scheduler.add_noise(x0, noise, timesteps),
                               alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise)
    torch.testing.assert_close(velocity(scheduler, x0, noise, timesteps),
                               scheduler.get_velocity(x0, noise, timesteps))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
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
    scheduler = make_scheduler("ddpm")
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


def test_predict_convenience_is_seeded():
    torch.manual_seed(0)
    model = VDT(**SMALL)
    x0, _ = data()
    a = predict(model, x0, "image_to_video", steps=2, generator=torch.Generator().manual_seed(1))
    b = predict(model, x0, "image_to_video", steps=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.equal(a[:, 0], x0[:, 0])
