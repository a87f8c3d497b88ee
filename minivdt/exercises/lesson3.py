"""Lesson 3 (attention): exercise checks and solutions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange

from minivdt.attention import Attention, attention_flops
from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: causal attention by hand
# --------------------------------------------------------------------------------------------------


def solution_causal_attention(q, k, v):
    """softmax(q k^T / sqrt(d) + M) v on (..., L, d), M = -inf above the diagonal: query i sees keys 0..i only."""
    L, S = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    future = torch.ones(L, S, dtype=torch.bool, device=q.device).triu(1)  # key j > query i
    scores = scores.masked_fill(future, float("-inf"))
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = scores.exp()
    weights = weights / weights.sum(dim=-1, keepdim=True)  # each row sums to 1 over the visible keys
    return weights @ v  # (..., L, d)


def check_causal_attention(answer) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 16, generator=g) for _ in range(3))  # (B, heads, L, d)
    mine = call_answer(answer, q, k, v)
    check_close(mine, F.scaled_dot_product_attention(q, k, v, is_causal=True), name="causal attention", atol=1e-5,
                hint="Hint: query i may look at keys j <= i only: set the scores with j > i to -inf BEFORE the "
                     "softmax (torch.triu(..., diagonal=1) marks them), so each row still sums to 1 over the "
                     "visible keys. Zeroing weights after the softmax leaves rows that do not sum to 1.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: causal temporal attention, seen through the perturbation map
# --------------------------------------------------------------------------------------------------


def solution_causal_temporal(attn, x):
    """Temporal attention in which frame f sees frames 0..f only, with the weights of `attn` (an Attention layer):
    (B, F, N, D) -> (B*N, F, D) -> causal multi-head attention -> (B, F, N, D)."""
    B = x.shape[0]
    seqs = rearrange(x, "b f n d -> (b n) f d")  # (B*N, F, D)
    q, k, v = rearrange(attn.qkv(seqs), "s f (three h d) -> three s h f d", three=3, h=attn.num_heads)
    y = solution_causal_attention(q, k, v)  # (B*N, h, F, D/h)
    y = attn.proj(rearrange(y, "s h f d -> s f (h d)"))  # (B*N, F, D)
    return rearrange(y, "(b n) f d -> b f n d", b=B)


def perturbation_map(fn, x, frame, token, eps=1.0):
    """(F, N) bool: which outputs of fn (B, F, N, D) -> (B, F, N, D) change when x[0, frame, token] changes."""
    moved = x.clone()
    moved[0, frame, token] += eps
    with torch.no_grad():
        return (fn(moved) - fn(x)).abs().amax(-1)[0] > 1e-6


def check_causal_temporal(answer) -> None:
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2).eval()
    x = torch.randn(2, 6, 5, 16, generator=torch.Generator().manual_seed(1))  # (B, F, N, D)
    hint = ("Hint: the sequences are the same as temporal attention's ('b f n d -> (b n) f d'); make q, k, v with "
            "attn.qkv, split the heads, use your causal attention from Exercise 1, merge the heads, apply attn.proj "
            "and rearrange back.")
    with torch.no_grad():
        mine = call_answer(answer, attn, x)
        check_close(mine, solution_causal_temporal(attn, x), name="causal temporal attention", atol=1e-5, hint=hint)
    frame, token = 2, 3
    changed = perturbation_map(lambda y: answer(attn, y), x, frame, token)
    expected = torch.zeros_like(changed)
    expected[frame:, token] = True  # the same patch location, this frame and every later one
    if not torch.equal(changed, expected):
        raise AssertionError(f"perturbing frame {frame}, token {token} changed {changed.nonzero().tolist()}; "
                             f"only frames >= {frame} of token {token} should change. {hint}")
    print("Correct: the perturbation reaches its own patch location, in this frame and later ones only.")


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
