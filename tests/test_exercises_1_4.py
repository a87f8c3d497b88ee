"""Every exercise check of lessons 1-4 accepts its solution and rejects a plausible wrong answer."""

import math

import numpy as np
import pytest
import torch
from einops import rearrange

from minivdt.exercises import lesson1, lesson2, lesson3, lesson4

# (check, solution, plausible wrong answers)
def _gap_to_block_centre(pos, radius, block):
    centre = (np.asarray(block[:2]) + block[2:]) / 2
    return np.linalg.norm(pos - centre, axis=-1) - radius  # distance to the block's centre, not its edge


def _causal_temporal_without_mask(attn, x):
    return rearrange(attn(rearrange(x, "b f n d -> (b n) f d")), "(b n) f d -> b f n d", b=x.shape[0])


def _anticausal_temporal(attn, x):
    flipped = x.flip(1)  # frame f then sees frames f..F-1: the future
    return lesson3.solution_causal_temporal(attn, flipped).flip(1)


def _causal_spatial(attn, x):
    y = lesson3.solution_causal_temporal(attn, rearrange(x, "b f n d -> b n f d"))
    return rearrange(y, "b n f d -> b f n d")  # causal over the tokens of a frame instead of over frames


CASES = {
    "gap_to_block": (lesson1.check_gap_to_block, lesson1.solution_gap_to_block, [
        _gap_to_block_centre,
        lambda pos, r, block: np.linalg.norm(pos - np.clip(pos, block[:2], block[2:]), axis=-1),  # forgot the radius
        lambda pos, r, block: np.abs(pos - np.clip(pos, block[:2], block[2:])).sum(-1) - r,  # L1, wrong at corners
    ]),
    "contact_rate": (lesson1.check_contact_rate, lesson1.solution_contact_rate, [
        lambda c, s: {str(n): int(c[s == n].sum()) for n in np.unique(s)},  # counts, not fractions
        lambda c, s: {str(n): float(c.mean()) for n in np.unique(s)},  # overall rate everywhere
        lambda c, s: [float(c[s == n].mean()) for n in np.unique(s)],  # not a dict
    ]),
    "patchify_reshape": (lesson2.check_patchify_reshape, lesson2.solution_patchify_reshape, [
        lambda x, p: rearrange(x, "b f c (h p1) (w p2) -> b f (h w) (p2 p1 c)", p1=p, p2=p),  # wrong pixel order
        lambda x, p: rearrange(x, "b f c (h p1) (w p2) -> b f (h w) (c p1 p2)", p1=p, p2=p),  # channels first
        lambda x, p: rearrange(x, "b f c (h p1) (w p2) -> b f (w h) (p1 p2 c)", p1=p, p2=p),  # column-major tokens
        lambda x, p: x.reshape(x.shape[0], x.shape[1], -1, p * p * x.shape[2]),  # plain reshape
    ]),
    "tubelet_patchify": (lesson2.check_tubelet_patchify, lesson2.solution_tubelet_patchify, [
        lambda x, t, p: rearrange(x, "b (f t) c (h p1) (w p2) -> b f (h w) (p1 p2 t c)", t=t, p1=p, p2=p),  # order
        lambda x, t, p: rearrange(x, "b (t f) c (h p1) (w p2) -> b f (h w) (t p1 p2 c)", t=t, p1=p, p2=p),  # strided
        lambda x, t, p: rearrange(x, "b (f t) c (h p1) (w p2) -> b (f h w) (t p1 p2 c)", t=t, p1=p, p2=p),  # flat
    ]),
    "causal_attention": (lesson3.check_causal_attention, lesson3.solution_causal_attention, [
        lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v,  # no mask
        lambda q, k, v: ((q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
                         * torch.ones(q.shape[-2], q.shape[-2]).tril()) @ v,  # masked after the softmax
        lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(
            torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool).tril(-1), float("-inf")).softmax(-1) @ v,  # future
    ]),
    "causal_temporal": (lesson3.check_causal_temporal, lesson3.solution_causal_temporal, [
        _causal_temporal_without_mask,  # plain temporal attention sees the future
        _anticausal_temporal,
        _causal_spatial,
    ]),
    "flops": (lesson3.check_flops, lesson3.solution_flops, [
        lambda kind, B, F, N, D: lesson3.solution_flops(kind, B, F, N, D) / 2,  # multiply-adds, not FLOPs
        lambda kind, B, F, N, D: 2.0 * {"spatial": B * F * N, "temporal": B * N * F, "joint": B * F * N}[kind]
        * 4 * D * D,  # projections only
    ]),
    "renoise": (lesson4.check_renoise, lesson4.solution_renoise, [
        lambda xs, n, ac, s, t: ac[t].view(-1, 1, 1, 1).sqrt() * xs + (1 - ac[t].view(-1, 1, 1, 1)).sqrt() * n,
        lambda xs, n, ac, s, t: (ac[t] - ac[s]).abs().view(-1, 1, 1, 1).sqrt() * xs
        + (1 - (ac[t] - ac[s]).abs().view(-1, 1, 1, 1)).sqrt() * n,  # difference instead of ratio
        lambda xs, n, ac, s, t: (ac[t] / ac[s]).view(-1, 1, 1, 1).sqrt() * xs + n,  # noise not scaled
    ]),
    "predict_x0": (lesson4.check_predict_x0, lesson4.solution_predict_x0, [
        lambda xt, eps, ab: (xt - (1 - ab) * eps) / ab,  # missing sqrt
        lambda xt, eps, ab: xt - (1 - ab).sqrt() * eps,  # forgot to divide
    ]),
    "from_v": (lesson4.check_from_v, lesson4.solution_from_v, [
        lambda xt, v, ab: (ab.sqrt() * xt + (1 - ab).sqrt() * v, (1 - ab).sqrt() * xt - ab.sqrt() * v),  # signs
        lambda xt, v, ab: ((1 - ab).sqrt() * xt - ab.sqrt() * v, ab.sqrt() * xt + (1 - ab).sqrt() * v),  # swapped
        lambda xt, v, ab: ab.sqrt() * xt - (1 - ab).sqrt() * v,  # x0 only, not a pair
    ]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_solution(name, capsys):
    check, solution, _ = CASES[name]
    check(solution)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_rejects_wrong_answers(name):
    check, _, wrong_answers = CASES[name]
    for wrong in wrong_answers:
        with pytest.raises(AssertionError) as info:
            check(wrong)
        assert not isinstance(info.value, lesson1.NotAttempted)
        assert "Hint" in str(info.value) or "must" in str(info.value)


def _not_implemented(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(CASES))
def test_unattempted_exercise_says_still_open_and_returns_the_solution(name, capsys):
    check, solution, _ = CASES[name]
    assert lesson1.run_exercise(check, _not_implemented, solution) is solution
    out = capsys.readouterr().out
    assert lesson1.STILL_OPEN in out and "Correct" not in out
    assert lesson1.run_exercise(check, lambda *args: None, solution) is solution
    assert lesson1.STILL_OPEN in capsys.readouterr().out


def test_attempted_exercise_returns_the_students_function(capsys):
    mine = lambda x, p: lesson2.solution_patchify_reshape(x, p)  # noqa: E731  (a right answer of the student)
    assert lesson1.run_exercise(lesson2.check_patchify_reshape, mine, lesson2.solution_patchify_reshape) is mine
    out = capsys.readouterr().out
    assert "Correct" in out and lesson1.STILL_OPEN not in out


def test_wrong_attempt_is_not_replaced_by_the_solution():
    with pytest.raises(AssertionError, match="Hint"):
        lesson1.run_exercise(lesson4.check_renoise, CASES["renoise"][2][0], lesson4.solution_renoise)
