"""Lesson 2 (patches and position embeddings): exercise checks and solutions."""

from __future__ import annotations

import torch
from einops import rearrange

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.tokens import patchify

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
#                              Exercise 2: tubelets (t x p x p patches across frames)
# --------------------------------------------------------------------------------------------------


def solution_tubelet_patchify(x, tubelet, patch_size):
    """(B, F, C, H, W) -> (B, F/t, N, t*p*p*C): each token is a t-frame, p x p tube (ViViT's tubelet embedding).
    Tokens run row-major over the patch grid; features are ordered (t p1 p2 c), so t = 1 equals patchify."""
    return rearrange(x, "b (f t) c (h p1) (w p2) -> b f (h w) (t p1 p2 c)", t=tubelet, p1=patch_size, p2=patch_size)


def check_tubelet_patchify(answer) -> None:
    x = torch.randn(2, 6, 3, 8, 12, generator=torch.Generator().manual_seed(0))  # (B, F, C, H, W)
    hint = ("Hint: split F into (F/t, t), H into (H/p, p) and W into (W/p, p); tokens are (h w) within each group of t "
            "frames, and each token lists its values frame by frame, then row by row, channels last: (t p1 p2 c).")
    mine = call_answer(answer, x, 1, 4)
    check_close(mine, patchify(x, 4), name="tubelet_patchify, t = 1 vs patchify", atol=0.0, hint=hint)
    for tubelet, p in ((2, 4), (3, 2)):
        mine = call_answer(answer, x, tubelet, p)
        check_close(mine, solution_tubelet_patchify(x, tubelet, p), name=f"tubelet_patchify, t = {tubelet}, p = {p}",
                    atol=0.0, hint=hint)
