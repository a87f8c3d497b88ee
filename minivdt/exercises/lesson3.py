"""Lesson 3 (attention): exercise checks and solutions."""

from __future__ import annotations

import math

import torch
from einops import rearrange

from minivdt.attention import Attention, attention_flops, temporal_attention
from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: scaled dot-product attention by hand
# --------------------------------------------------------------------------------------------------


def solution_attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v on (..., L, d) tensors, the softmax written out (max-subtracted for stability)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = scores.exp()
    weights = weights / weights.sum(dim=-1, keepdim=True)  # each row sums to 1
    return weights @ v  # (..., L, d)


def check_attention(answer) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 16, generator=g) for _ in range(3))  # (B, heads, L, d)
    mine = call_answer(answer, q, k, v)
    check_close(mine, torch.nn.functional.scaled_dot_product_attention(q, k, v), name="attention", atol=1e-5,
                hint="Hint: scores = q @ k^T divided by sqrt(d) (d = q.shape[-1], not d itself), softmax over the LAST "
                     "axis (the keys), then multiply by v.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: temporal attention as a rearrange
# --------------------------------------------------------------------------------------------------


def solution_temporal(attn, x):
    """Each patch location attends across frames: (B, F, N, D) -> (B*N, F, D) -> attn -> (B, F, N, D)."""
    B = x.shape[0]
    y = attn(rearrange(x, "b f n d -> (b n) f d"))  # (B*N, F, D)
    return rearrange(y, "(b n) f d -> b f n d", b=B)


def check_temporal(answer) -> None:
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2).eval()
    x = torch.randn(2, 4, 6, 16, generator=torch.Generator().manual_seed(1))  # (B, F, N, D)
    with torch.no_grad():
        mine = call_answer(answer, attn, x)
        ref = temporal_attention(attn, x)
    check_close(mine, ref, name="temporal attention", atol=1e-5,
                hint="Hint: Temporal attention: one sequence per (batch, patch location), of length F: "
                     "'b f n d -> (b n) f d', then the exact inverse. '(b f) n d' would be SPATIAL attention.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 3: FLOPs of one attention layer
# --------------------------------------------------------------------------------------------------


def solution_flops(kind, batch, num_frames, tokens_per_frame, dim):
    """Matmul FLOPs (2 per multiply-add) of one spatial / temporal / joint attention layer on (B, F, N, D)."""
    B, F, N, D = batch, num_frames, tokens_per_frame, dim
    num_seqs, length = {"spatial": (B * F, N), "temporal": (B * N, F), "joint": (B, F * N)}[kind]
    projections = 4 * length * D * D  # q, k, v and the output projection
    mixing = 2 * length * length * D  # q k^T and (weights) v
    return 2.0 * num_seqs * (projections + mixing)


def check_flops(answer) -> None:
    for kind in ("spatial", "temporal", "joint"):
        for B, F, N, D in ((1, 16, 64, 128), (2, 8, 16, 32)):
            mine = call_answer(answer, kind, B, F, N, D)
            ref = attention_flops(kind, B, F, N, D)
            if abs(float(mine) - ref) > 1e-6 * ref:
                raise AssertionError(
                    f"flops({kind!r}, B={B}, F={F}, N={N}, D={D}) = {float(mine):.4g} but expected {ref:.4g} "
                    f"(ratio {float(mine) / ref:.3g}). Hint: per sequence of length L: 4 L D^2 multiply-adds for "
                    f"the q, k, v, out projections plus 2 L^2 D for q k^T and weights @ v; 2 FLOPs per multiply-add; "
                    f"spatial has B*F sequences of N, temporal B*N of F, joint B of F*N.")
    print("Correct: flops matches minivdt.attention.attention_flops.")
