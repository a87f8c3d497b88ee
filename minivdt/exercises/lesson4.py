"""Lesson 4 (diffusion): exercise checks and solutions. Notation: ᾱ_t = alphas_cumprod[t], ε ~ N(0, I)."""

from __future__ import annotations

import torch

from minivdt.course import check_close
from minivdt.diffusion import make_scheduler
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1  # (B, C, H, W) in [-1, 1]
    noise = torch.randn(4, 3, 8, 8, generator=g)
    timesteps = torch.tensor([0, 250, 600, 999])
    return x0, noise, timesteps


def _alpha_bar(alphas_cumprod, timesteps, like):
    return alphas_cumprod[timesteps].view(-1, *([1] * (like.ndim - 1)))  # (B, 1, 1, 1)


# --------------------------------------------------------------------------------------------------
#                              Exercise 1: more noise on an already noisy frame
# --------------------------------------------------------------------------------------------------


def solution_renoise(x_s, noise, alphas_cumprod, s, t):
    """x_t from x_s for s < t (one timestep per batch element): x_t = sqrt(ᾱ_t/ᾱ_s) x_s + sqrt(1 - ᾱ_t/ᾱ_s) ε.
    The forward process from s to t is the same kind of jump as from 0, with ᾱ_t/ᾱ_s = ∏_{s<r<=t} α_r."""
    ratio = _alpha_bar(alphas_cumprod, t, x_s) / _alpha_bar(alphas_cumprod, s, x_s)  # (B, 1, 1, 1)
    return ratio.sqrt() * x_s + (1 - ratio).sqrt() * noise


def check_renoise(answer) -> None:
    scheduler = make_scheduler("ddpm")
    x0, noise, _ = _inputs()
    s, t = torch.tensor([0, 100, 300, 600]), torch.tensor([50, 400, 700, 999])
    x_s = scheduler.add_noise(x0, torch.randn(x0.shape, generator=torch.Generator().manual_seed(5)), s)
    mine = call_answer(answer, x_s, noise, scheduler.alphas_cumprod, s, t)
    check_close(mine, solution_renoise(x_s, noise, scheduler.alphas_cumprod, s, t), name="renoise", atol=1e-5,
                hint="Hint: x_s already holds sqrt(ᾱ_s) x0; to reach sqrt(ᾱ_t) x0 multiply it by sqrt(ᾱ_t / ᾱ_s), and "
                     "add just enough fresh noise that the total variance is 1 again: sqrt(1 - ᾱ_t / ᾱ_s) ε. "
                     "Using ᾱ_t alone would noise x0's signal twice.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: recover x_0 from a predicted ε
# --------------------------------------------------------------------------------------------------


def solution_predict_x0(x_t, eps, alpha_bar):
    """Invert the forward process: x_0 = (x_t - sqrt(1 - ᾱ_t) ε) / sqrt(ᾱ_t); alpha_bar broadcastable to x_t."""
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def check_predict_x0(answer) -> None:
    scheduler = make_scheduler("ddpm")
    x0, noise, timesteps = _inputs(1)
    x_t = scheduler.add_noise(x0, noise, timesteps)
    alpha_bar = _alpha_bar(scheduler.alphas_cumprod, timesteps, x0)
    mine = call_answer(answer, x_t, noise, alpha_bar)
    check_close(mine, x0, name="predict_x0", atol=1e-3,
                hint="Hint: Solve x_t = sqrt(ᾱ) x0 + sqrt(1-ᾱ) ε for x0: subtract sqrt(1-ᾱ) ε, then divide by sqrt(ᾱ).")


# --------------------------------------------------------------------------------------------------
#                              Exercise 3: from a predicted v back to x_0 and ε
# --------------------------------------------------------------------------------------------------


def solution_from_v(x_t, v, alpha_bar):
    """(x̂_0, ε̂) from v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x_0 and x_t = sqrt(ᾱ) x_0 + sqrt(1-ᾱ) ε (a rotation by an angle
    whose cos is sqrt(ᾱ)): x̂_0 = sqrt(ᾱ) x_t - sqrt(1-ᾱ) v, ε̂ = sqrt(1-ᾱ) x_t + sqrt(ᾱ) v."""
    a, b = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    return a * x_t - b * v, b * x_t + a * v


def check_from_v(answer) -> None:
    scheduler = make_scheduler("ddpm", prediction_type="v_prediction")
    x0, noise, timesteps = _inputs(2)
    alpha_bar = _alpha_bar(scheduler.alphas_cumprod, timesteps, x0)
    x_t = scheduler.add_noise(x0, noise, timesteps)
    v = scheduler.get_velocity(x0, noise, timesteps)
    mine = call_answer(answer, x_t, v, alpha_bar)
    if not isinstance(mine, (tuple, list)) or len(mine) != 2:
        raise AssertionError(f"from_v must return a pair (x0_hat, eps_hat), got {type(mine).__name__}")
    hint = ("Hint: write x_t and v as two equations in x0 and ε. With a = sqrt(ᾱ), b = sqrt(1-ᾱ) and a² + b² = 1, "
            "a x_t - b v eliminates ε and b x_t + a v eliminates x0 — no division needed.")
    check_close(mine[0], x0, name="x0_hat", atol=1e-4, hint=hint)
    check_close(mine[1], noise, name="eps_hat", atol=1e-4, hint=hint)
