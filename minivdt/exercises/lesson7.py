"""Lesson 7 (unified spatio-temporal mask modeling): exercise checks and solutions."""

from __future__ import annotations

import torch

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.masks import make_mask

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: the backward-prediction mask
# --------------------------------------------------------------------------------------------------


def solution_backward_mask(batch, num_frames, height, width, num_given):
    """(B, F, 1, H, W) float mask: the LAST num_given frames are given (0), the earlier ones generated (1)."""
    mask = torch.ones(batch, num_frames, 1, height, width)
    mask[:, num_frames - num_given:] = 0
    return mask


def check_backward_mask(answer) -> None:
    for batch, num_frames, size, num_given in ((2, 16, 8, 8), (1, 6, 4, 2), (3, 5, 4, 1)):
        mine = call_answer(answer, batch, num_frames, size, size, num_given)
        expected = make_mask("backward", batch, num_frames, size, size, num_given=num_given)
        check_close(torch.as_tensor(mine, dtype=torch.float32), expected,
                    name=f"backward_mask(F={num_frames}, given={num_given})", atol=0,
                    hint="Hint: 1 = generate, 0 = given; backward prediction GIVES the last num_given frames and "
                         "generates the ones before them. Shape (B, F, 1, H, W).")


# --------------------------------------------------------------------------------------------------
#                              Exercise 2: the masked loss
# --------------------------------------------------------------------------------------------------


def solution_masked_mse(prediction, target, mask):
    """Mean squared error over the generated elements only: Σ m (pred - target)² / Σ m, m broadcast over channels."""
    mask = mask.expand_as(prediction)  # (B, F, 1, H, W) -> (B, F, C, H, W)
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp(min=1)


def check_masked_mse(answer) -> None:
    g = torch.Generator().manual_seed(0)
    prediction, target = torch.randn(2, 6, 3, 4, 4, generator=g), torch.randn(2, 6, 3, 4, 4, generator=g)
    mask = make_mask("predict", 2, 6, 4, 4, num_given=2)  # (B, F, 1, H, W)
    mask[1, :, :, :2] = 0  # make the two samples differ
    mine = call_answer(answer, prediction, target, mask)
    check_close(torch.as_tensor(mine).reshape(()), solution_masked_mse(prediction, target, mask), name="masked_mse",
                atol=1e-6,
                hint="Hint: zero the squared error at given positions (mask = 0), then divide by the number of "
                     "GENERATED elements, counting all C channels (expand the mask to the prediction's shape before "
                     "summing it), not by the total number of elements.")
