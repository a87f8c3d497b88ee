"""Every exercise check of lessons 1-4 accepts its solution and rejects a plausible wrong answer."""

import math

import numpy as np
import pytest
import torch
from einops import rearrange

from minivdt.attention import spatial_attention
from minivdt.exercises import lesson1, lesson2, lesson3, lesson4

# (check, solution, plausible wrong answers)
CASES = {
    "surface_gap": (lesson1.check_surface_gap, lesson1.solution_surface_gap, [
        lambda a, b, ra, rb: np.linalg.norm(a - b, axis=-1),  # forgot the radii
        lambda a, b, ra, rb: np.sum((a - b) ** 2, axis=-1) - ra - rb,  # missing sqrt
        lambda a, b, ra, rb: np.linalg.norm(a - b, axis=-1) - ra,  # one radius only
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
    "sincos_1d": (lesson2.check_sincos_1d, lesson2.solution_sincos_1d, [
        lambda dim, pos: torch.cat([torch.cos(a := pos[:, None] / 10000 ** (torch.arange(dim // 2) / (dim / 2))),
                                    torch.sin(a)], 1),  # cos before sin
        lambda dim, pos: torch.cat([torch.sin(a := pos[:, None] / 10000 ** (torch.arange(dim // 2) / dim)),
                                    torch.cos(a)], 1),  # frequencies over dim instead of dim/2
    ]),
    "attention": (lesson3.check_attention, lesson3.solution_attention, [
        lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v,  # scale 1/d, not 1/sqrt(d)
        lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v,  # no scale
        lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-2) @ v,  # softmax over queries
    ]),
    "temporal": (lesson3.check_temporal, lesson3.solution_temporal, [
        spatial_attention,  # the other axis
        lambda attn, x: rearrange(attn(rearrange(x, "b f n d -> (b n) f d")), "(n b) f d -> b f n d",
                                  b=x.shape[0]),  # inverse does not match the forward rearrange
    ]),
    "flops": (lesson3.check_flops, lesson3.solution_flops, [
        lambda kind, B, F, N, D: lesson3.solution_flops(kind, B, F, N, D) / 2,  # multiply-adds, not FLOPs
        lambda kind, B, F, N, D: 2.0 * {"spatial": B * F * N, "temporal": B * N * F, "joint": B * F * N}[kind]
        * 4 * D * D,  # projections only
    ]),
    "add_noise": (lesson4.check_add_noise, lesson4.solution_add_noise, [
        lambda x0, n, ac, t: ac[t].view(-1, 1, 1, 1) * x0 + (1 - ac[t].view(-1, 1, 1, 1)) * n,  # missing sqrt
        lambda x0, n, ac, t: ac[t].view(-1, 1, 1, 1).sqrt() * x0 + n,  # noise not scaled
    ]),
    "predict_x0": (lesson4.check_predict_x0, lesson4.solution_predict_x0, [
        lambda xt, eps, ab: (xt - (1 - ab) * eps) / ab,  # missing sqrt
        lambda xt, eps, ab: xt - (1 - ab).sqrt() * eps,  # forgot to divide
    ]),
    "velocity": (lesson4.check_velocity, lesson4.solution_velocity, [
        lambda x0, n, ab: ab.sqrt() * x0 - (1 - ab).sqrt() * n,  # roles swapped
        lambda x0, n, ab: ab.sqrt() * n + (1 - ab).sqrt() * x0,  # wrong sign
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


def test_unattempted_exercise_falls_back_to_solution(capsys):
    assert lesson1.run_exercise(lesson2.check_patchify_reshape, _not_implemented,
                                lesson2.solution_patchify_reshape) is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "Correct" in out
    assert lesson1.run_exercise(lesson2.check_patchify_reshape, lambda x, p: None,
                                lesson2.solution_patchify_reshape) is False
    assert lesson1.run_exercise(lesson2.check_patchify_reshape, lesson2.solution_patchify_reshape,
                                lesson2.solution_patchify_reshape) is True


def test_wrong_attempt_is_not_replaced_by_the_solution():
    with pytest.raises(AssertionError, match="Hint"):
        lesson1.run_exercise(lesson4.check_add_noise, CASES["add_noise"][2][0], lesson4.solution_add_noise)
