"""Lesson 2 (patches and position embeddings): exercise checks and solutions."""

from __future__ import annotations

import math

import torch

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.tokens import get_1d_sincos_embed_from_positions, patchify

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: patchify with reshape / permute only
# --------------------------------------------------------------------------------------------------


def solution_patchify_reshape(x, patch_size):
    """(B, F, C, H, W) -> (B, F, N, p*p*C) with view/permute: the same order as minivdt.tokens.patchify."""
    B, F, C, H, W = x.shape
    p = patch_size
    x = x.reshape(B, F, C, H // p, p, W // p, p)  # b f c h p1 w p2
    x = x.permute(0, 1, 3, 5, 4, 6, 2)  # b f h w p1 p2 c
    return x.reshape(B, F, (H // p) * (W // p), p * p * C)


def check_patchify_reshape(answer) -> None:
    x = torch.randn(2, 3, 3, 8, 12, generator=torch.Generator().manual_seed(0))  # (B, F, C, H, W)
    mine = call_answer(answer, x, 4)
    check_close(mine, patchify(x, 4), name="patchify_reshape", atol=0.0,
                hint="Hint: Split H into (H/p, p) and W into (W/p, p), then permute to (b, f, h, w, p1, p2, c): "
                     "tokens run row-major over the patch grid and each token lists its pixels row by row, "
                     "channels last (p1 p2 c).")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: the 1-D sin-cos embedding
# --------------------------------------------------------------------------------------------------


def solution_sincos_1d(dim, positions):
    """positions (M,) -> (M, dim): [sin(pos w_i) for i < dim/2, cos(pos w_i) for i < dim/2], w_i = 10000^(-2i/dim)."""
    i = torch.arange(dim // 2, dtype=torch.float64)
    omega = 1.0 / 10000 ** (2 * i / dim)  # (dim/2,)
    angles = positions.double()[:, None] * omega[None]  # (M, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()


def check_sincos_1d(answer) -> None:
    positions = torch.arange(16)
    mine = call_answer(answer, 32, positions)
    check_close(mine, get_1d_sincos_embed_from_positions(32, positions), name="sincos_1d", atol=1e-5,
                hint=f"Hint: Frequencies w_i = 1 / 10000^(2i/dim) for i = 0..dim/2-1 (so w_0 = 1, the fastest); "
                     f"all the sines first, then all the cosines. Row 1 should start with sin(1) = {math.sin(1):.4f}.")
