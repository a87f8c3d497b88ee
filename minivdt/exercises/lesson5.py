"""Lesson 5 (the VDT block): exercise checks and solutions."""

from __future__ import annotations

import torch

from minivdt.attention import joint_attention
from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.model import ADALN_CHUNKS, VDTBlock, modulate

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: the forward pass of a joint-attention block
# --------------------------------------------------------------------------------------------------


def solution_joint_block_forward(block, x, c):
    """VDTBlock(attention_mode="joint").forward without cross-attention: 6 adaLN chunks, two gated branches —
    one attention over all F*N tokens, then the MLP."""
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
        block.adaLN_modulation(c)[:, None, None].chunk(6, dim=-1)  # each (B, 1, 1, D)
    x = x + gate_msa * joint_attention(block.attn, modulate(block.norm1(x), shift_msa, scale_msa))
    return x + gate_mlp * block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp))  # (B, F, N, D)


def check_joint_block_forward(answer) -> None:
    torch.manual_seed(0)
    D = 16
    block = VDTBlock(D, num_heads=2, attention_mode="joint").eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # a trained-looking block: adaLN-Zero would make every answer return x
        block.adaLN_modulation[-1].weight.normal_(0, 0.1, generator=g)
        block.adaLN_modulation[-1].bias.normal_(0, 0.1, generator=g)
        x = torch.randn(2, 3, 4, D, generator=g)  # (B, F, N, D)
        c = torch.randn(2, D, generator=g)
        mine = call_answer(answer, block, x, c)
        check_close(mine, block(x, c), name="joint block forward", atol=1e-5,
                    hint="Hint: a joint block has two branches, so adaLN_modulation(c) splits into 6 chunks "
                         "(shift, scale, gate for attention, then for the MLP), each reshaped to (B, 1, 1, D). The "
                         "attention branch uses joint_attention (all F*N tokens in one sequence), and each branch "
                         "adds gate * branch(modulate(norm(x), shift, scale)) to the un-normalised x.")


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
