"""Lesson 9 (an uncertain future): exercise checks and solutions."""

from __future__ import annotations

import numpy as np

from minivdt.course import check_close
from minivdt.exercises.lesson1 import call_answer, run_exercise  # noqa: F401  (re-exported for the notebook)
from minivdt.metrics import energy_score

# --------------------------------------------------------------------------------------------------
#                              Exercise 1: the energy score of samples against futures
# --------------------------------------------------------------------------------------------------


def solution_energy_score(samples, futures):
    """Energy score of S forecast samples against M possible futures, both (S, D) and (M, D) points (px):
    mean |x_i - y_j| over all pairs, minus half the mean |x_i - x_k| over pairs of *different* samples (i != k);
    with one sample the second term is 0."""
    samples, futures = np.asarray(samples, np.float64), np.asarray(futures, np.float64)
    skill = np.linalg.norm(samples[:, None] - futures[None], axis=-1).mean()
    S = len(samples)
    if S == 1:
        return float(skill)
    spread = np.linalg.norm(samples[:, None] - samples[None], axis=-1).sum() / (S * (S - 1))
    return float(skill - 0.5 * spread)


def _library(samples, futures):
    """The same score from minivdt.metrics.energy_score (one ball, one frame, no cap that matters)."""
    samples, futures = np.asarray(samples, np.float64), np.asarray(futures, np.float64)
    return float(energy_score(samples[None, :, None, None], futures[None, :, None, None], np.ones((1, 1), bool),
                              cap=1e9)[0, 0])


CASES = (
    ("one sample at the mean of two futures", [[1.0, 0.0]], [[0.0, 0.0], [2.0, 0.0]], 1.0),
    ("two samples on the two futures", [[0.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [2.0, 0.0]], 0.0),
    ("a 3-4-5 triangle", [[3.0, 4.0]], [[0.0, 0.0]], 5.0),
)


def check_energy_score(answer) -> None:
    for name, samples, futures, known in CASES:
        mine = call_answer(answer, np.array(samples), np.array(futures))
        assert abs(_library(samples, futures) - known) < 1e-9  # the library agrees with the known answer
        check_close(float(mine), known, name=f"energy score ({name})", atol=1e-6,
                    hint="Hint: the first term is the mean distance over every (sample, future) pair; the second is "
                         "HALF the mean distance between two DIFFERENT samples (S * (S - 1) pairs, so a sample is "
                         "never compared with itself), and it is 0 for a single sample.")
    rng = np.random.default_rng(0)
    samples, futures = rng.normal(size=(7, 2)), rng.normal(size=(11, 2)) + 0.5
    check_close(float(call_answer(answer, samples, futures)), _library(samples, futures),
                name="energy score (random points, against minivdt.metrics.energy_score)", atol=1e-6)
