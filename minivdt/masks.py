"""Lesson 7 — notebooks/07_mask_modeling.ipynb. Unified spatio-temporal mask modeling: every task is a mask
(B, F, 1, H, W) with 1 = generate, 0 = given.

One model trained on a mix of masks does prediction, backward prediction, interpolation, image-to-video,
spatial completion and arbitrary spatio-temporal completion (VDT Sec. 3.2)."""

import math

import numpy as np
import torch

from .checks import check_int

TASKS = ("unconditional", "predict", "backward", "interpolate", "image_to_video", "spatial_completion", "random")

DEFAULT_TASK_WEIGHTS = {
    # Forward prediction is the Physion readout, so it gets the largest share; the rest teach the one
    # model every other task of the paper's unified mask modeling.
    "predict": 0.5,
    "backward": 0.1,
    "interpolate": 0.1,
    "image_to_video": 0.05,
    "spatial_completion": 0.1,
    "random": 0.1,
    "unconditional": 0.05,
}


def _check_task(task):
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def check_task_weights(name, weights):
    """A non-empty dict task name -> finite weight >= 0, not all zero."""
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f"{name} must be a non-empty dict of task name -> weight, got {weights!r}")
    for task, w in weights.items():
        if not isinstance(task, str) or task not in TASKS:
            raise ValueError(f"{name} has unknown task {task!r}; valid tasks: {TASKS}")
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(w) and w >= 0):
            raise ValueError(f"{name}[{task!r}] must be a finite number >= 0, got {w!r}")
    if sum(weights.values()) <= 0:
        raise ValueError(f"{name} must not all be zero, got {weights}")


def _randint(low, high, generator):
    """Uniform int in [low, high] (inclusive)."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def make_mask(task, batch, num_frames, height, width, num_given=8, patch_size=1, generator=None):
    """Float mask (B, F, 1, H, W) for a named task; spatial patterns are aligned to patch_size x patch_size cells.

    predict: first num_given frames given; backward: last num_given; interpolate: num_given // 2 (at least 1) at
    each end; image_to_video: frame 0; spatial_completion: one random rectangle generated in every frame;
    random: i.i.d. cells over (frame, patch) with a per-sample rate, at least one given and one generated."""
    _check_task(task)
    batch, num_frames, height, width, patch_size = (check_int(name, value, 1) for name, value in (
        ("batch", batch), ("num_frames", num_frames), ("height", height), ("width", width), ("patch_size", patch_size)))
    num_given = check_int("num_given", num_given)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if height % patch_size or width % patch_size:
        raise ValueError(f"height and width must be divisible by patch_size={patch_size}, got {height}x{width}")
    B, F, gh, gw = batch, num_frames, height // patch_size, width // patch_size
    mask = torch.ones(B, F, 1, gh, gw)  # on the grid of patches; upsampled at the end

    if task in ("predict", "backward"):
        if not 1 <= num_given < F:
            raise ValueError(f"num_given must be in [1, num_frames={F}) for task {task!r}, got {num_given}")
        # predict: x_{0:k} given -> generate x_{k:F};  backward: x_{F-k:F} given -> generate x_{0:F-k}
        if task == "predict":
            mask[:, :num_given] = 0
        else:
            mask[:, F - num_given:] = 0
    elif task == "interpolate":
        k = max(1, num_given // 2)
        if num_given < 1 or 2 * k >= F:
            raise ValueError(f"num_given must be in [1, {2 * ((F - 1) // 2) + 1}] for 'interpolate' with num_frames={F}"
                             f" (num_given // 2 frames given at each end, at least one), got {num_given}")
        mask[:, :k] = 0
        mask[:, F - k:] = 0
    elif task == "image_to_video":
        if F < 2:
            raise ValueError(f"num_frames must be >= 2 for 'image_to_video', got {F}")
        mask[:, 0] = 0
    elif task == "spatial_completion":
        if gh * gw < 2:
            raise ValueError(f"frames must have >= 2 patches for 'spatial_completion', got {gh}x{gw}")
        mask.zero_()
        for b in range(B):
            # rectangle of h x w cells at (top, left), never the empty set and never the whole frame. (The official
            # code slices [s:-e] with e possibly 0, and x[s:-0] is EMPTY, so some "completion" masks hid nothing.)
            while True:
                h, w = _randint(1, gh, generator), _randint(1, gw, generator)
                if h * w < gh * gw:
                    break
            top, left = _randint(0, gh - h, generator), _randint(0, gw - w, generator)
            mask[b, :, :, top:top + h, left:left + w] = 1
    elif task == "random":
        if F * gh * gw < 2:
            raise ValueError("the (frame, patch) grid must have >= 2 cells for 'random'")
        # each cell generated with probability r_b ~ U(0.1, 0.9), then force both kinds to exist
        rate = 0.1 + 0.8 * torch.rand(B, 1, 1, 1, 1, generator=generator)
        mask = (torch.rand(B, F, 1, gh, gw, generator=generator) < rate).float()
        for b in range(B):
            flat = mask[b].view(-1)
            if flat.min() == flat.max():  # all one kind: flipping any single cell makes both kinds exist
                flat[_randint(0, flat.numel() - 1, generator)] = 1 - flat[0]
    mask = mask.repeat_interleave(patch_size, dim=-2).repeat_interleave(patch_size, dim=-1)
    return mask.contiguous()  # (B, F, 1, H, W)


def make_masks(tasks, num_frames, height, width, num_given=8, patch_size=1, generator=None):
    """One mask per sample from a list of task names: (len(tasks), F, 1, H, W)."""
    return torch.cat([make_mask(t, 1, num_frames, height, width, num_given, patch_size, generator) for t in tasks])


class TaskMix:
    """A weighted training mix of tasks, e.g. TaskMix({"predict": 3, "random": 1}); weights need not sum to 1."""

    def __init__(self, weights):
        check_task_weights("weights", weights)
        self.tasks = tuple(weights)
        self.probs = torch.tensor([float(weights[t]) for t in self.tasks])
        self.probs = self.probs / self.probs.sum()

    def sample(self, batch, generator=None):
        """A list of `batch` task names drawn with the mix's probabilities."""
        batch = check_int("batch", batch, 1)
        idx = torch.multinomial(self.probs, batch, replacement=True, generator=generator)
        return [self.tasks[i] for i in idx.tolist()]

    def __call__(self, batch, num_frames, height, width, num_given=8, patch_size=1, generator=None):
        """(masks (B, F, 1, H, W), task names) with one task drawn per sample."""
        tasks = self.sample(batch, generator)
        return make_masks(tasks, num_frames, height, width, num_given, patch_size, generator), tasks

    def __repr__(self):
        return f"TaskMix({dict(zip(self.tasks, self.probs.tolist()))})"
