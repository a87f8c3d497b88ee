"""The exercise check of lesson 9 accepts its solution and rejects plausible wrong energy scores."""

import numpy as np
import pytest

from minivdt.exercises import lesson9
from minivdt.exercises.lesson1 import STILL_OPEN


def _pairs(a, b):
    return np.linalg.norm(np.asarray(a, float)[:, None] - np.asarray(b, float)[None], axis=-1)


def without_the_half(samples, futures):  # forgets the 1/2 of the spread term
    S = len(samples)
    return _pairs(samples, futures).mean() - (_pairs(samples, samples).sum() / (S * (S - 1)) if S > 1 else 0.0)


def with_self_pairs(samples, futures):  # averages the spread over all S^2 pairs, a sample against itself included
    return _pairs(samples, futures).mean() - 0.5 * _pairs(samples, samples).mean()


def mean_distance_only(samples, futures):  # no spread term: the score a point forecast would get
    return _pairs(samples, futures).mean()


def distance_of_the_means(samples, futures):  # distance between the two averages
    return float(np.linalg.norm(np.mean(samples, 0) - np.mean(futures, 0)))


def test_the_solution_passes(capsys):
    lesson9.check_energy_score(lesson9.solution_energy_score)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [without_the_half, with_self_pairs, mean_distance_only, distance_of_the_means])
def test_wrong_energy_scores_are_rejected(wrong):
    with pytest.raises(AssertionError, match="Hint"):
        lesson9.check_energy_score(wrong)


def test_an_open_exercise_uses_the_solution(capsys):
    def stub(samples, futures):
        raise NotImplementedError

    assert lesson9.run_exercise(lesson9.check_energy_score, stub, lesson9.solution_energy_score) \
        is lesson9.solution_energy_score
    assert STILL_OPEN in capsys.readouterr().out
