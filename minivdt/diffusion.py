"""Lesson 4 — notebooks/04_diffusion.ipynb. Diffusion for masked video: diffusers schedulers, the three things a
network can predict (ε, v, x_0), how training timesteps are drawn and weighted, the masked training loss, and a
sampler that re-injects the condition every step.
Notation: T = 1000 training steps, ᾱ_t = alphas_cumprod[t], x_0 clean video, ε ~ N(0, I),
x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε, v = sqrt(ᾱ_t) ε - sqrt(1 - ᾱ_t) x_0, m = mask (1 = generate)."""

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from .checks import check_int, check_seed
from .data import to_tensor, to_uint8
from .masks import make_mask

SCHEDULERS = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler}
DEFAULT_SAMPLER = "ddpm"  # ancestral sampling: the one sampler every lesson, the demo and the benchmarks use
DEFAULT_STEPS = 25  # sampling steps of DEFAULT_SAMPLER
NUM_TRAIN_TIMESTEPS = 1000  # T: the noise levels t = 0 .. T-1 of training (DDPM's linear beta schedule)
# What the network predicts, by diffusers' names: ε, v (Salimans & Ho 2022) or x_0 itself ("sample"). The one
# default of the library (VDTConfig, TrainConfig, make_scheduler) is x_0: on this world the recipe study measured it
# far ahead of ε and v (BENCHMARKS.md). Lesson 4's small denoiser predicts ε and says so where it builds its scheduler.
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
DEFAULT_PREDICTION_TYPE = "sample"
# How training timesteps are drawn: uniformly, or skewed toward high noise (t = T-1 - floor(T u²), u ~ U[0, 1)),
# where the given frames, not the noisy input, must decide where the balls go; "max" (always t = T-1) with an x_0
# target turns the model into a deterministic regressor, the reference for how fast the backbone learns at all.
TIMESTEP_SAMPLINGS = ("uniform", "high_noise", "max")
# How each sample's loss is weighted: not at all, or Min-SNR-γ (Hang et al. 2023), which caps the weight of
# the easy low-noise steps.
LOSS_WEIGHTINGS = ("none", "min_snr")


def make_scheduler(kind="ddpm", prediction_type=DEFAULT_PREDICTION_TYPE, num_train_timesteps=NUM_TRAIN_TIMESTEPS, beta_schedule="linear"):
    """A diffusers scheduler: "ddpm" (training / ancestral sampling), "ddim" or "dpm" (DPM-Solver++, fast sampling).
    beta_schedule "linear" (DDPM/DiT/VDT, β from 1e-4 to 0.02) or "squaredcos_cap_v2" (cosine)."""
    if kind not in SCHEDULERS:
        raise ValueError(f"kind must be one of {tuple(SCHEDULERS)}, got {kind!r}")
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
    kwargs = dict(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule,
                  prediction_type=prediction_type,
                  # few-step sampling must start at t = T-1 (Lin et al., 2023); diffusers' DDPM default
                  # "leading" would start 25 steps at t = 960 and never show the model pure noise
                  timestep_spacing="trailing")
    return SCHEDULERS[kind](**kwargs)


def scheduler_for(model, kind: str = DEFAULT_SAMPLER):
    """The `kind` sampler for a trained model: its prediction type comes from the model's own config, the one place
    that knows what the network predicts."""
    return make_scheduler(kind, prediction_type=model.config.prediction_type)


def _alpha_bar(scheduler, timesteps, like):
    """ᾱ_t gathered per sample and shaped (B, 1, 1, 1, 1) to broadcast over a video."""
    alpha_bar = scheduler.alphas_cumprod.to(like.device)[timesteps.to(like.device)]
    return alpha_bar.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def velocity(scheduler, x0, noise, timesteps):
    """v = sqrt(ᾱ_t) ε - sqrt(1 - ᾱ_t) x_0 (Salimans & Ho 2022); works for every scheduler."""
    alpha_bar = _alpha_bar(scheduler, timesteps, x0)
    return alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0


def predict_x0(scheduler, prediction, x_t, timesteps):
    """x̂_0 from whatever the network predicts: ε -> (x_t - sqrt(1-ᾱ) ε) / sqrt(ᾱ); v -> sqrt(ᾱ) x_t - sqrt(1-ᾱ) v."""
    kind = scheduler.config.prediction_type
    if kind == "sample":
        return prediction
    alpha_bar = _alpha_bar(scheduler, torch.as_tensor(timesteps).expand(x_t.shape[0]), x_t)
    if kind == "epsilon":
        return (x_t - (1 - alpha_bar).sqrt() * prediction) / alpha_bar.sqrt()
    return alpha_bar.sqrt() * x_t - (1 - alpha_bar).sqrt() * prediction


def target_for(scheduler, x0, noise, timesteps):
    """What the network is trained to output: ε, v or x_0, as the scheduler's prediction_type says."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return velocity(scheduler, x0, noise, timesteps)
    if kind == "sample":
        return x0
    raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {kind!r}")


def sample_timesteps(batch, num_train_timesteps=NUM_TRAIN_TIMESTEPS, kind="uniform", generator=None):
    """Training timesteps (B,): "uniform" t ~ U{0..T-1}, or "high_noise" t = T-1 - floor(T u²), u ~ U[0, 1),
    which puts half of the samples above t ≈ 0.75 T, where only the context can say what the video holds."""
    if kind == "uniform":
        return torch.randint(0, num_train_timesteps, (batch,), generator=generator)
    if kind == "high_noise":
        u = torch.rand(batch, generator=generator)
        return (num_train_timesteps - 1 - (num_train_timesteps * u ** 2).long()).clamp(0, num_train_timesteps - 1)
    if kind == "max":
        return torch.full((batch,), num_train_timesteps - 1, dtype=torch.long)
    raise ValueError(f"timestep_sampling must be one of {TIMESTEP_SAMPLINGS}, got {kind!r}")


def loss_weights(scheduler, timesteps, kind="none", gamma=5.0):
    """Per-sample loss weights (B,). "min_snr": Min-SNR-γ (Hang et al. 2023), written for each target so that
    every parameterisation puts the same weight min(SNR, γ) on the error of x̂_0:
    ε: min(SNR, γ) / SNR;  v: min(SNR, γ) / (SNR + 1);  x_0: min(SNR, γ). SNR(t) = ᾱ_t / (1 - ᾱ_t)."""
    if kind == "none":
        return torch.ones(timesteps.shape[0])
    if kind != "min_snr":
        raise ValueError(f"loss_weighting must be one of {LOSS_WEIGHTINGS}, got {kind!r}")
    alpha_bar = scheduler.alphas_cumprod[timesteps.cpu()]
    snr = alpha_bar / (1 - alpha_bar)
    clipped = snr.clamp(max=gamma)
    kind = scheduler.config.prediction_type
    return {"epsilon": clipped / snr, "v_prediction": clipped / (snr + 1), "sample": clipped}[kind]


def training_loss(model, x0, mask, scheduler, generator=None, timestep_sampling="uniform", loss_weighting="none"):
    """Masked denoising loss: mean squared error over the generated (mask == 1) elements only. Scalar tensor."""
    B = x0.shape[0]
    prediction_type = scheduler.config.prediction_type
    model_prediction_type = getattr(getattr(model, "config", None), "prediction_type", prediction_type)
    if model_prediction_type != prediction_type:
        raise ValueError(f"scheduler prediction_type {prediction_type!r} does not match the model's "
                         f"{model_prediction_type!r}")
    mask = mask.to(x0)
    # t per sample (uniform or skewed to high noise), ε ~ N(0, I)
    timesteps = sample_timesteps(B, scheduler.config.num_train_timesteps, timestep_sampling, generator)
    weights = loss_weights(scheduler, timesteps, loss_weighting).to(x0.device)  # (B,)
    timesteps = timesteps.to(x0.device)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    # x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε
    x_t = scheduler.add_noise(x0, noise, timesteps)
    # given positions are clean, exactly as the sampler will feed them: x_in = m x_t + (1 - m) x_0
    cond = (1 - mask) * x0
    x_in = mask * x_t + cond
    prediction = model(x_in, timesteps, cond, mask).float()
    target = target_for(scheduler, x0, noise, timesteps)  # ε, v or x_0
    # L = Σ w_b m (pred - target)² / Σ m, the sum running over channels too. The official VDT averages over ALL
    # positions, so the loss (and gradient scale) shrinks with the number of given frames and the given
    # positions, whose prediction is never used, pull the average down; here only generated elements count.
    mask = mask.expand_as(prediction)
    weights = weights.view(-1, *([1] * (prediction.ndim - 1)))  # (B, 1, 1, 1, 1)
    return ((prediction - target.float()) ** 2 * mask * weights).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
@torch.no_grad()
def validation_loss(model, x0, mask, scheduler, repeats=4, **loss_kwargs):
    """training_loss on fixed clips averaged over `repeats` fixed draws of timesteps and noise: every model (and
    every checkpoint of one run) is scored on exactly the same problems. loss_kwargs go to training_loss (e.g.
    timestep_sampling="high_noise" to score the noise levels a run trains on)."""
    losses = [training_loss(model, x0, mask, scheduler, generator=torch.Generator().manual_seed(seed),
                            **loss_kwargs).item() for seed in range(repeats)]
    return float(np.mean(losses))


@torch.no_grad()
def sample(model, cond_video, mask, scheduler, num_inference_steps=DEFAULT_STEPS, generator=None, progress=False):
    """Generate the mask == 1 part of cond_video (B, F, C, H, W); given positions come back bit-exact."""
    mask = mask.to(cond_video)
    is_given = (mask == 0).expand_as(cond_video)
    cond = torch.where(is_given, cond_video, torch.zeros_like(cond_video))  # clean video * (1 - m)
    scheduler.set_timesteps(num_inference_steps)
    # x_T ~ N(0, σ_max² I)
    x = torch.randn(cond_video.shape, generator=generator, dtype=cond_video.dtype).to(cond_video.device)
    x = x * scheduler.init_noise_sigma
    timesteps = scheduler.timesteps
    if progress:
        from .progress import progress_bar
        timesteps = progress_bar(timesteps)
    for t in timesteps:
        # re-inject the condition: x_t <- m x_t + (1 - m) x_0 (the model was trained on exactly this blend)
        x = torch.where(is_given, cond_video, x)
        model_input = scheduler.scale_model_input(x, t)
        prediction = model(model_input, t.expand(x.shape[0]).to(x.device), cond, mask).to(x.dtype)
        # x_{t-1} from the scheduler's update rule (DDPM / DDIM / DPM-Solver++)
        x = scheduler.step(prediction, t, x, generator=generator).prev_sample
    return torch.where(is_given, cond_video, x)


@torch.no_grad()
def generate(model, frames: np.ndarray, task: str = "predict", num_given: int = 8, steps: int = DEFAULT_STEPS,
             seed: int = 0, sampler: str = DEFAULT_SAMPLER, batch_size: int = 32) -> np.ndarray:
    """Fill the `task` mask of uint8 clips (B, F, H, W, 3) with the model; returns uint8 (B, F, H, W, 3).

    Positions the mask gives are copied from `frames`; only generated positions come from the model.
    """
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (B, F, H, W, 3), got shape {frames.shape}")
    B, F, H, W, _ = frames.shape
    steps, batch_size = check_int("steps", steps, 1, 1000), check_int("batch_size", batch_size, 1)
    seed = check_seed("seed", seed)
    device = next(model.parameters()).device
    noise_scheduler = scheduler_for(model, sampler)
    generator = torch.Generator().manual_seed(seed)
    mask = make_mask(task, B, F, H, W, num_given=num_given, patch_size=model.config.patch_size, generator=generator)
    out = []
    for start in range(0, B, batch_size):
        video = to_tensor(frames[start:start + batch_size]).to(device)  # (b, F, C, H, W)
        part_mask = mask[start:start + batch_size].to(device)
        # fp32: bf16 autocast pays on a CPU only with bf16 units and from width ~384; the bundled model is 128 wide
        result = sample(model, video, part_mask, noise_scheduler, num_inference_steps=steps, generator=generator)
        out.append(to_uint8(result.float().cpu()))
    return np.concatenate(out)
