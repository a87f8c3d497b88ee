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
#                              Exercise 1: the forward (noising) process
# --------------------------------------------------------------------------------------------------


def solution_add_noise(x0, noise, alphas_cumprod, timesteps):
    """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε, with one timestep per batch element."""
    alpha_bar = _alpha_bar(alphas_cumprod, timesteps, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def check_add_noise(answer) -> None:
    scheduler = make_scheduler("ddpm")
    x0, noise, timesteps = _inputs()
    mine = call_answer(answer, x0, noise, scheduler.alphas_cumprod, timesteps)
    check_close(mine, scheduler.add_noise(x0, noise, timesteps), name="add_noise", atol=1e-5,
                hint="Hint: x_t = sqrt(ᾱ_t) * x0 + sqrt(1 - ᾱ_t) * noise: both coefficients are SQUARE ROOTS (so the "
                     "variance stays 1), and ᾱ_t must be reshaped to (B, 1, 1, 1) to broadcast over each image.")


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
#                              Exercise 3: the v-prediction target
# --------------------------------------------------------------------------------------------------


def solution_velocity(x0, noise, alpha_bar):
    """v = sqrt(ᾱ_t) ε - sqrt(1 - ᾱ_t) x_0 (Salimans & Ho 2022)."""
    return alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0


def check_velocity(answer) -> None:
    scheduler = make_scheduler("ddpm", prediction_type="v_prediction")
    x0, noise, timesteps = _inputs(2)
    alpha_bar = _alpha_bar(scheduler.alphas_cumprod, timesteps, x0)
    mine = call_answer(answer, x0, noise, alpha_bar)
    check_close(mine, scheduler.get_velocity(x0, noise, timesteps), name="velocity", atol=1e-5,
                hint="Hint: v = sqrt(ᾱ_t) * noise - sqrt(1 - ᾱ_t) * x0: the noise gets the sqrt(ᾱ) coefficient, x0 the "
                     "sqrt(1-ᾱ) one, and x0's term is SUBTRACTED.")
