"""Lesson 9 — notebooks/09_uncertain_future.ipynb. The true distribution of futures of a clip.

On a rough floor (world.STOCHASTIC_SCENARIOS) the given frames do not fix what comes next: every bounce turns by an
angle drawn from a seed of its own. `sample_futures` re-runs the simulator from the same initial state with the same
random draws up to the last given frame and fresh draws after it, so each clip gets M alternative futures that share
its past exactly. Scores of a forecast (minivdt.metrics.uncertain) compare a model's samples with this spread, not
with one draw of it.
"""

from __future__ import annotations

import numpy as np

from .checks import check_int
from .data import concat_clips
from .world import ALL_SCENARIOS, ClipBatch, make_clips


def sample_futures(clips: ClipBatch, num_futures: int, num_given: int = 8, scenario: str | None = None,
                   first: int = 1) -> ClipBatch:
    """M = num_futures alternative futures of every clip: a ClipBatch of B * M clips, clip-major (futures of clip i
    are rows i * M ... i * M + M - 1).

    Frames 0 .. num_given - 1 equal the clip's (checked); frames from num_given on are fresh draws d = first, first+1,
    ... of the bounce angles (draw 0 is the clip itself, so the observed future is never one of them).
    scenario: the scenario the clips were made with, if not the one each clip records (a "mixed" clip records the
    sub-scenario it simulated).
    """
    if not isinstance(clips, ClipBatch):
        raise TypeError(f"clips must be a ClipBatch (world.make_clips), got {type(clips).__name__}")
    check_int("num_futures", num_futures, 1, 10_000)
    check_int("num_given", num_given, 1, clips.frames.shape[1] - 1)
    check_int("first", first, 1)
    if scenario is not None and scenario not in ALL_SCENARIOS:
        raise ValueError(f"scenario must be one of {ALL_SCENARIOS} or None, got {scenario!r}")
    names = np.full(len(clips), scenario) if scenario is not None else clips.scenario
    if not clips.rough_floor.any():
        raise ValueError("sample_futures: none of the clips has a rough floor, so each has exactly one future "
                         f"(use a scenario of {tuple(s for s in ALL_SCENARIOS if s == 'bounce')} or rough_floor=True)")
    parts, rows = [], []
    for name in dict.fromkeys(names):  # one simulation per scenario and draw, vectorised over its clips
        index = np.flatnonzero(names == name)
        for m in range(num_futures):
            parts.append(make_clips(str(name), clips.seed[index], clips.config, future=first + m, num_given=num_given))
            rows.append(index * num_futures + m)  # where these futures go in the clip-major result
    futures = concat_clips(parts).select(np.argsort(np.concatenate(rows)))
    past = future_array(futures, len(clips), "frames")[:, :, :num_given]  # (B, M, num_given, H, W, 3)
    if not np.array_equal(past, np.broadcast_to(clips.frames[:, None, :num_given], past.shape)):
        raise ValueError("sample_futures: re-simulating these clips does not reproduce their given frames; pass the "
                         "scenario they were made with (e.g. scenario='mixed') and the same world config")
    return futures


def future_array(futures: ClipBatch, num_clips: int, name: str = "positions") -> np.ndarray:
    """A field of sample_futures' result with the clip and future axes apart: (B * M, ...) -> (B, M, ...)."""
    value = np.asarray(getattr(futures, name))
    return value.reshape((num_clips, len(futures) // num_clips) + value.shape[1:])
