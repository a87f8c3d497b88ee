"""Every exercise check of lessons 5-8 accepts its solution and rejects a plausible wrong answer."""

import numpy as np
import pytest
import torch

from minivdt.exercises import lesson5, lesson6, lesson7, lesson8
from minivdt.attention import joint_attention, spatial_attention
from minivdt.exercises.lesson1 import STILL_OPEN, NotAttempted
from minivdt.diffusion import predict_x0
from minivdt.masks import make_mask
from minivdt.model import modulate

def _joint_block(block, x, c, attend, gated=True, residual_from_norm=False):
    shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = block.adaLN_modulation(c)[:, None, None].chunk(6, dim=-1)
    if not gated:
        gate_a = gate_m = 1.0
    base = block.norm1(x) if residual_from_norm else x
    x = base + gate_a * attend(block.attn, modulate(block.norm1(x), shift_a, scale_a))
    return x + gate_m * block.mlp(modulate(block.norm2(x), shift_m, scale_m))


def _joint_block_spatial(block, x, c):
    return _joint_block(block, x, c, spatial_attention)


def _joint_block_ungated(block, x, c):
    return _joint_block(block, x, c, joint_attention, gated=False)


def _joint_block_residual_from_norm(block, x, c):
    return _joint_block(block, x, c, joint_attention, residual_from_norm=True)


def _shift(model, scheduler, video, other, mask, timestep, noise, to_x0=True, swap_cond=True, everywhere=False):
    timesteps = torch.full((video.shape[0],), timestep, dtype=torch.long)
    x_t = scheduler.add_noise(video, noise, timesteps)

    def estimate(context, cond_context):
        x_in = mask * x_t + (1 - mask) * context
        prediction = model(x_in, timesteps, (1 - mask) * cond_context, mask)
        return predict_x0(scheduler, prediction, x_in, timesteps) if to_x0 else prediction

    with torch.no_grad():
        moved = (estimate(video, video) - estimate(other, other if swap_cond else video)).abs()
    return float(moved.mean() if everywhere else (moved * mask.expand_as(moved)).sum() / mask.expand_as(moved).sum())


def _shift_raw_prediction(*args):
    return _shift(*args, to_x0=False)


def _shift_input_only(*args):
    return _shift(*args, swap_cond=False)


def _shift_over_everything(*args):
    return _shift(*args, everywhere=True)


# (check, solution, plausible wrong answers)
CASES = {
    "joint_block_forward": (lesson5.check_joint_block_forward, lesson5.solution_joint_block_forward, [
        _joint_block_spatial,  # spatial attention: frames never mix
        _joint_block_ungated,  # gates forgotten
        _joint_block_residual_from_norm,  # residual added to the normalised x
    ]),
    "adaln_params": (lesson5.check_adaln_params, lesson5.solution_adaln_params, [
        lambda D, mode: 6 * D * D + 6 * D,  # always 6 chunks (DiT's block)
        lambda D, mode: (9 if mode == "factorised" else 6) * D * D,  # no biases
    ]),
    "pool_given": (lesson6.check_pool_given, lesson6.solution_pool_given, [
        lambda tokens, mask: tokens.mean((1, 2)),  # plain mean over all tokens
        lambda tokens, mask: (mask.mean(-1, keepdim=True) * tokens).sum((1, 2))
        / mask.mean(-1, keepdim=True).sum((1, 2)),  # weights the GENERATED tokens
        lambda tokens, mask: ((1 - mask.mean(-1, keepdim=True)) * tokens).sum((1, 2))
        / (tokens.shape[1] * tokens.shape[2]),  # divides by F*N
    ]),
    "extra_params": (lesson6.check_extra_params, lesson6.solution_extra_params, [
        lambda mode, hidden_size, depth, patch_size, in_channels=3: 0,  # "they all cost the same"
        lambda mode, hidden_size, depth, patch_size, in_channels=3: lesson6.solution_extra_params(
            mode, hidden_size, 1, patch_size, in_channels),  # cross-attention counted once, not per block
    ]),
    "backward_mask": (lesson7.check_backward_mask, lesson7.solution_backward_mask, [
        lambda B, F, H, W, k: make_mask("predict", B, F, H, W, num_given=k),  # the forward mask
        lambda B, F, H, W, k: 1 - lesson7.solution_backward_mask(B, F, H, W, k),  # 1/0 swapped
        lambda B, F, H, W, k: torch.ones(B, F, 1, H, W).index_fill_(1, torch.arange(F - k - 1, F), 0),  # off by one
    ]),
    "masked_mse": (lesson7.check_masked_mse, lesson7.solution_masked_mse, [
        lambda pred, target, mask: ((pred - target) ** 2).mean(),  # every position counts
        lambda pred, target, mask: ((pred - target) ** 2 * mask).mean(),  # zeroed but averaged over everything
        lambda pred, target, mask: ((pred - target) ** 2 * mask).sum() / mask.sum(),  # channels not counted
    ]),
    "extrapolate": (lesson8.check_extrapolate, lesson8.solution_extrapolate, [
        lambda p, n: p[:, 1:] + (p[:, 1:] - p[:, :1]) * np.arange(n)[None, :, None, None],  # starts at k = 0
        lambda p, n: p[:, 1:] + (p[:, :1] - p[:, 1:]) * np.arange(1, n + 1)[None, :, None, None],  # reversed
        lambda p, n: np.repeat(p[:, 1:], n, axis=1),  # copy last position
    ]),
    "extrapolate_with_gravity": (lesson8.check_extrapolate_with_gravity, lesson8.solution_extrapolate_with_gravity, [
        lambda p, n, g: lesson8.solution_extrapolate(p, n),  # gravity ignored
        lambda p, n, g: lesson8.solution_extrapolate(p, n) + np.array([0.0, g]) * (np.arange(1, n + 1) ** 2 / 2)[
            None, :, None, None],  # continuous-time k²/2 with a velocity that already lags half a frame
        lambda p, n, g: lesson8.solution_extrapolate(p, n) - np.array([0.0, g]) * (
            np.arange(1, n + 1) * np.arange(2, n + 2) / 2)[None, :, None, None],  # falls up
        lambda p, n, g: lesson8.solution_extrapolate_with_gravity(p, n, 0.8),  # a constant, not the argument
    ]),
    "context_shift": (lesson8.check_context_shift, lesson8.solution_context_shift, [
        _shift_raw_prediction,  # compares ε̂, not x̂_0
        _shift_input_only,  # swaps the context in x_in but not in cond
        _shift_over_everything,  # averages over given elements too
    ]),
    "fit_log_linear": (lesson8.check_fit_log_linear, lesson8.solution_fit_log_linear, [
        lambda g, q: tuple(np.polyfit(np.log(g), q, 1)),  # natural log
        lambda g, q: tuple(np.polyfit(g, q, 1)),  # no log
        lambda g, q: tuple(np.polyfit(np.log10(g), q, 1)[::-1]),  # (intercept, slope)
    ]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_solution(name, capsys):
    check, solution, _ = CASES[name]
    check(solution)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("name, index", [(n, i) for n, case in sorted(CASES.items()) for i in range(len(case[2]))])
def test_check_rejects_wrong_answer(name, index):
    check, _, wrong = CASES[name]
    with pytest.raises(AssertionError) as error:
        check(wrong[index])
    assert not isinstance(error.value, NotAttempted)
    assert "Hint" in str(error.value) or "must" in str(error.value)


def _stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(CASES))
def test_unattempted_says_still_open_and_uses_the_solution(name, capsys):
    check, solution, _ = CASES[name]
    with pytest.raises(NotAttempted):
        check(_stub)
    assert lesson5.run_exercise(check, _stub, solution) is solution
    out = capsys.readouterr().out
    assert STILL_OPEN in out and "Correct" not in out
