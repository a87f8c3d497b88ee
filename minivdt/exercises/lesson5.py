"""Lesson 5 (the VDT block): exercise checks and solutions."""

from __future__ import annotations

import torch
from torch import nn

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.model import ADALN_CHUNKS, VDTBlock, modulate

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: one gated residual branch (adaLN-Zero)
# --------------------------------------------------------------------------------------------------


def solution_gated_branch(x, branch, norm, shift, scale, gate):
    """x + gate * branch(modulate(norm(x), shift, scale)): a pre-norm residual branch whose gate starts at zero."""
    return x + gate * branch(modulate(norm(x), shift, scale))


def check_gated_branch(answer) -> None:
    torch.manual_seed(0)
    D = 8
    branch = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))
    norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, D, generator=g) * 3 + 1  # (B, F, N, D), not already normalised
    shift, scale, gate = (torch.randn(2, 1, 1, D, generator=g) for _ in range(3))  # each (B, 1, 1, D)
    hint = ("Hint: normalise x, modulate it with (shift, scale), run the branch, multiply by gate, and ADD the "
            "result to the un-normalised x (the residual).")
    with torch.no_grad():
        mine = call_answer(answer, x, branch, norm, shift, scale, gate)
        check_close(mine, solution_gated_branch(x, branch, norm, shift, scale, gate), name="gated branch",
                    atol=1e-5, hint=hint)
        zero = torch.zeros_like(gate)
        check_close(call_answer(answer, x, branch, norm, shift, scale, zero), x, name="gated branch, gate = 0",
                    atol=1e-6, hint="Hint: with gate = 0 the branch must be exactly the identity (adaLN-Zero).")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: parameters of a block's adaLN_modulation
# --------------------------------------------------------------------------------------------------


def solution_adaln_params(hidden_size, attention_mode="factorised"):
    """Weights + biases of Linear(D, k D), k = 3 per branch: 9 (temporal, spatial, MLP) or 6 (joint, MLP)."""
    chunks = ADALN_CHUNKS[attention_mode]  # 3 per branch (shift, scale, gate): temporal, spatial, MLP or joint, MLP
    return hidden_size * chunks * hidden_size + chunks * hidden_size


def check_adaln_params(answer) -> None:
    for hidden_size, mode in ((128, "factorised"), (64, "joint"), (32, "factorised")):
        mine = call_answer(answer, hidden_size, mode)
        block = VDTBlock(hidden_size, num_heads=4, attention_mode=mode)
        expected = sum(p.numel() for p in block.adaLN_modulation.parameters())
        if int(mine) != expected:
            raise AssertionError(
                f"adaln_params({hidden_size}, {mode!r}) = {mine} but the block has {expected}. Hint: the Linear maps "
                f"D -> k*D (weights D*k*D plus k*D biases); k = 3 numbers per branch (shift, scale, gate) and a "
                f"'factorised' block has 3 branches (temporal, spatial, MLP), a 'joint' block 2.")
    print("Correct: adaln_params matches.")
