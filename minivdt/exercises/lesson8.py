"""Lesson 8 (physics prediction and scaling): exercise checks and solutions."""

from __future__ import annotations

import numpy as np
import torch

from minivdt.course import check_close
from minivdt.diffusion import make_scheduler, predict_x0
from minivdt.masks import make_mask
from minivdt.model import VDT
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: constant-velocity extrapolation of positions
# --------------------------------------------------------------------------------------------------


def solution_extrapolate(last_two, num_future):
    """Positions of the last two given frames (B, 2, K, 2) -> (B, num_future, K, 2) moving on at constant velocity.

    Future step k (1-based) is p_last + k * (p_last - p_before)."""
    last_two = np.asarray(last_two, dtype=np.float64)
    velocity = last_two[:, 1:] - last_two[:, :1]  # (B, 1, K, 2) px per frame
    steps = np.arange(1, num_future + 1, dtype=np.float64)[None, :, None, None]  # (1, num_future, 1, 1)
    return last_two[:, 1:] + velocity * steps


def check_extrapolate(answer) -> None:
    rng = np.random.default_rng(0)
    last_two = rng.uniform(4, 28, (3, 2, 2, 2))  # (B, 2, K, 2)
    mine = call_answer(answer, last_two.copy(), 5)
    check_close(np.asarray(mine, dtype=np.float64), solution_extrapolate(last_two, 5), name="extrapolate",
                atol=1e-6,
                hint="Hint: velocity = last - before (px per frame, sign matters); the FIRST future frame is "
                     "already one step ahead of the last given one (k = 1, ..., num_future), output (B, num_future, "
                     "K, 2).")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: extrapolation that knows gravity
# --------------------------------------------------------------------------------------------------


def solution_extrapolate_with_gravity(last_two, num_future, gravity):
    """Positions (B, 2, K, 2) of the last two given frames -> (B, num_future, K, 2) in free fall: the last
    displacement is the velocity over the last frame, and every frame adds `gravity` (px/frame², +y is down) to it,
    so step k moves k v + gravity k (k + 1) / 2. Exact for a ball in flight; blind to floors and collisions."""
    last_two = np.asarray(last_two, dtype=np.float64)
    velocity = last_two[:, 1:] - last_two[:, :1]  # (B, 1, K, 2) px per frame
    k = np.arange(1, num_future + 1, dtype=np.float64)[None, :, None, None]  # (1, num_future, 1, 1)
    fall = np.array([0.0, gravity]) * k * (k + 1) / 2  # (1, num_future, 1, 2)
    return last_two[:, 1:] + velocity * k + fall


def check_extrapolate_with_gravity(answer) -> None:
    gravity = 0.8  # px/frame²
    # a free-flight parabola sampled at frames: the answer must continue it exactly
    t = np.arange(8, dtype=np.float64)[None, :, None]  # (1, 8, 1)
    start, velocity = np.array([[4.0, 3.0], [20.0, 10.0]]), np.array([[1.5, -4.0], [-0.5, 0.0]])  # (K, 2)
    path = start + velocity * t[..., None] + 0.5 * np.array([0.0, gravity]) * t[..., None] ** 2  # (1, 8, K, 2)
    mine = call_answer(answer, path[:, 1:3].copy(), 5, gravity)
    check_close(np.asarray(mine, dtype=np.float64), path[:, 3:], name="free-fall extrapolation", atol=1e-6,
                hint="Hint: gravity changes only y (+y is down). Over future frame j the displacement is v + j * "
                     "gravity (v = last - before), so after k frames the ball has moved k v + gravity (1 + 2 + ... + "
                     "k) = k v + gravity k (k + 1) / 2.")
    rng = np.random.default_rng(0)
    last_two = rng.uniform(4, 28, (3, 2, 2, 2))  # (B, 2, K, 2)
    mine = call_answer(answer, last_two.copy(), 4, 0.3)
    check_close(np.asarray(mine, dtype=np.float64), solution_extrapolate_with_gravity(last_two, 4, 0.3),
                name="extrapolate_with_gravity", atol=1e-6, hint="Hint: use the `gravity` argument, not a constant.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 3: quality against log-compute
# --------------------------------------------------------------------------------------------------


def solution_fit_log_linear(gflops, quality):
    """Least-squares line quality ≈ slope * log10(gflops) + intercept -> (slope, intercept)."""
    slope, intercept = np.polyfit(np.log10(np.asarray(gflops, dtype=np.float64)),
                                  np.asarray(quality, dtype=np.float64), 1)
    return float(slope), float(intercept)


def check_fit_log_linear(answer) -> None:
    gflops = np.array([0.05, 0.2, 0.8, 3.2, 12.8])
    quality = np.array([0.31, 0.24, 0.2, 0.13, 0.09])
    mine = call_answer(answer, gflops.copy(), quality.copy())
    if not isinstance(mine, (tuple, list, np.ndarray)) or len(mine) != 2:
        raise AssertionError(f"fit_log_linear must return (slope, intercept), got {mine!r}")
    check_close(np.asarray(mine, dtype=np.float64), np.asarray(solution_fit_log_linear(gflops, quality)),
                name="(slope, intercept)", atol=1e-6,
                hint="Hint: fit a degree-1 polynomial (np.polyfit(..., 1)) of quality against log10(gflops) (base 10, "
                     "not the natural log, and not gflops itself); polyfit returns the slope first.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 4: does the context move the prediction?
# --------------------------------------------------------------------------------------------------


def solution_context_shift(model, scheduler, video, other, mask, timestep, noise):
    """Mean |x̂_0(video) - x̂_0(video with other's given part)| over the generated elements, both from the same
    noisy future: how much the model's estimate of the clean clip depends on what it is shown.
    video, other, noise (B, F, C, H, W); mask (B, F, 1, H, W), 1 = generate; timestep an int."""
    timesteps = torch.full((video.shape[0],), timestep, dtype=torch.long)
    x_t = scheduler.add_noise(video, noise, timesteps)  # x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε

    def x0_hat(context):
        x_in = mask * x_t + (1 - mask) * context  # the given part is clean, as in training and sampling
        prediction = model(x_in, timesteps, (1 - mask) * context, mask)
        return predict_x0(scheduler, prediction, x_in, timesteps)

    with torch.no_grad():
        moved = (x0_hat(video) - x0_hat(other)).abs()
    generated = mask.expand_as(moved)
    return float((moved * generated).sum() / generated.sum())


def _context_case():
    torch.manual_seed(0)
    model = VDT(input_size=8, patch_size=4, num_frames=4, hidden_size=16, depth=1, num_heads=2,
                prediction_type="epsilon").eval()  # ε: skipping predict_x0 must show
    with torch.no_grad():  # a fresh VDT ignores its input (zero-initialised output): give it a trained look
        for param in model.parameters():
            if (param == 0).all():
                param.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    video, other, noise = (torch.rand(2, 4, 3, 8, 8, generator=g) * 2 - 1 for _ in range(3))
    mask = make_mask("predict", 2, 4, 8, 8, num_given=2, patch_size=4)
    return model, make_scheduler("ddpm", prediction_type=model.config.prediction_type), video, other, mask, noise


def check_context_shift(answer) -> None:
    model, scheduler, video, other, mask, noise = _context_case()
    hint = ("Hint: noise the clip once (x_t); build the model input twice, once with the clip's own given frames and "
            "once with the other clip's (the given part of x_in AND the `cond` argument are the context), turn each "
            "prediction into x̂_0 with minivdt.diffusion.predict_x0, and average |difference| over the GENERATED "
            "elements only (mask == 1, all channels).")
    for timestep in (100, 900):
        mine = call_answer(answer, model, scheduler, video, other, mask, timestep, noise)
        expected = solution_context_shift(model, scheduler, video, other, mask, timestep, noise)
        if not np.isclose(float(mine), expected, rtol=1e-4, atol=1e-6):
            raise AssertionError(f"context_shift at t = {timestep} is {float(mine):.5f} but expected "
                                 f"{expected:.5f}. {hint}")
    print("Correct: context_shift matches.")
