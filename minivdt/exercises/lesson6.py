"""Lesson 6 (conditioning modes): exercise checks and solutions."""

from __future__ import annotations

import torch

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.model import VDT

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: pooling the given tokens (adaln mode)
# --------------------------------------------------------------------------------------------------


def solution_pool_given(cond_tokens, mask_tokens):
    """Mean of the condition tokens (B, F, N, D) weighted by how much of each patch is GIVEN -> (B, D).

    mask_tokens (B, F, N, p*p) is the patchified mask (1 = generate), so a patch's given fraction is 1 - its mean."""
    weight = 1 - mask_tokens.mean(-1, keepdim=True)  # (B, F, N, 1)
    return (weight * cond_tokens).sum((1, 2)) / weight.sum((1, 2)).clamp(min=1e-6)  # (B, D)


def check_pool_given(answer) -> None:
    g = torch.Generator().manual_seed(0)
    cond_tokens = torch.randn(2, 4, 6, 8, generator=g)  # (B, F, N, D)
    mask_tokens = torch.ones(2, 4, 6, 4)  # (B, F, N, p*p), p = 2
    mask_tokens[0, :2] = 0  # sample 0: the first two frames given
    mask_tokens[1, :, :3, :2] = 0  # sample 1: half of each of the first three patches given, in every frame
    mine = call_answer(answer, cond_tokens, mask_tokens)
    check_close(mine, solution_pool_given(cond_tokens, mask_tokens), name="pool_given", atol=1e-5,
                hint="Hint: weight each token by the GIVEN fraction of its patch, 1 - mask_tokens.mean(-1) (mask = 1 "
                     "means generate), sum over frames and tokens, and divide by the sum of the weights, not by F*N.")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: what each conditioning mode costs in parameters
# --------------------------------------------------------------------------------------------------

CHECK_CONFIGS = (
    dict(hidden_size=128, depth=4, patch_size=4, in_channels=3),
    dict(hidden_size=32, depth=2, patch_size=2, in_channels=4),
)


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


def solution_extra_params(cond_mode, hidden_size, depth, patch_size, in_channels=3):
    """Parameters a cond_mode adds on top of "concat" (which adds none: the condition is blended into the input).

    adaln: a cond_embedder (Linear p*p*C -> D) and a cond_mlp (two Linear D -> D). cross_attn: the cond_embedder and,
    in every block, a LayerNorm with affine weights (2D) and a CrossAttention (q: D -> D, kv: D -> 2D, proj: D -> D)."""
    D, p, C = hidden_size, patch_size, in_channels
    embedder = p * p * C * D + D
    if cond_mode == "concat":
        return 0
    if cond_mode == "adaln":
        return embedder + 2 * (D * D + D)
    if cond_mode == "cross_attn":
        per_block = 2 * D + (D * D + D) + (D * 2 * D + 2 * D) + (D * D + D)
        return embedder + depth * per_block
    raise ValueError(f"cond_mode must be 'concat', 'adaln' or 'cross_attn', got {cond_mode!r}")


def check_extra_params(answer) -> None:
    for config in CHECK_CONFIGS:
        size = dict(config, num_heads=4, input_size=16, num_frames=4)
        base = _num_params(VDT(cond_mode="concat", **size))
        for mode in ("concat", "adaln", "cross_attn"):
            expected = _num_params(VDT(cond_mode=mode, **size)) - base
            mine = call_answer(answer, mode, **config)
            if int(mine) != expected:
                raise AssertionError(
                    f"extra_params({mode!r}, {config}) = {mine} but the model has {expected} more parameters than "
                    f"'concat'. Hint: concat adds nothing; both other modes need a cond_embedder (a Linear from "
                    f"p*p*C to D, with bias); adaln adds a 2-layer D -> D MLP; cross_attn adds, PER BLOCK, a "
                    f"LayerNorm with affine weights and a CrossAttention with q, kv (D -> 2D) and proj layers.")
    print("Correct: extra_params matches for every mode.")
