"""Scores for an uncertain future (Lesson 9), on hand-made cases whose answers are known."""

import math

import numpy as np
import pytest

from minivdt import baselines
from minivdt.futures import sample_futures
from minivdt.metrics import (ball_distance, best_of_k, brier_score, energy_score, evaluate_uncertain, reliability,
                             spread_skill)
from minivdt.world import make_clips


def points(xs):
    """One ball moving along x: (B=1, S, F=1, K=1, 2) positions from a list of x values."""
    xs = np.asarray(xs, np.float64)
    return np.stack([xs, np.zeros_like(xs)], -1)[None, :, None, None, :]


PRESENT = np.ones((1, 1), bool)


def test_ball_distance_caps_and_counts_lost_balls():
    a, b = np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[3.0, 4.0], [5.0, 5.0]])
    assert ball_distance(a, b, [True, True], cap=8) == pytest.approx(2.5)  # (5 + 0) / 2
    assert ball_distance(a, b + 100, [True, False], cap=8) == pytest.approx(8.0)  # capped; absent ball ignored
    assert ball_distance(a, b, [True, True], found_a=[False, True], cap=8) == pytest.approx(4.0)  # lost: cap
    assert ball_distance(a, a, [True, True], found_a=[False, True], found_b=[False, True], cap=8) == 0.0


def test_a_point_forecast_scores_its_mean_distance_and_the_right_ensemble_scores_zero():
    futures = points([0.0, 2.0])  # two equally likely futures
    assert energy_score(points([1.0]), futures, PRESENT, cap=100)[0, 0] == pytest.approx(1.0)  # the mean
    assert energy_score(points([0.0]), futures, PRESENT, cap=100)[0, 0] == pytest.approx(1.0)  # one mode
    assert energy_score(points([0.0, 2.0]), futures, PRESENT, cap=100)[0, 0] == pytest.approx(0.0)
    assert energy_score(points([3.0]), points([3.0]), PRESENT)[0, 0] == 0.0


def test_energy_score_is_the_crps_in_one_dimension():
    xs = np.random.default_rng(0).standard_normal(3000)
    crps = 2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi)  # CRPS(N(0, 1), y = 0)
    assert energy_score(points(xs), points([0.0]), PRESENT, cap=100)[0, 0] == pytest.approx(crps, abs=0.01)


def test_the_true_distribution_beats_a_too_narrow_and_a_shifted_one():
    rng = np.random.default_rng(1)
    futures = points(np.where(rng.random(400) < 0.3, -3.0, 2.0) + 0.3 * rng.standard_normal(400))
    def draw(scale, shift):
        return points(np.where(rng.random(200) < 0.3, -3.0, 2.0) * scale + shift + 0.3 * rng.standard_normal(200))
    true, narrow, shifted = (energy_score(draw(*a), futures, PRESENT, cap=100)[0, 0]
                             for a in ((1, 0), (0.3, 0), (1, 1)))
    assert true < narrow and true < shifted


def test_best_of_k_takes_the_best_of_the_first_k_samples():
    observed = np.zeros((1, 1, 1, 2))
    samples = points([3.0, 1.0, 2.0, 0.5, 9.0])
    assert best_of_k(samples, observed, PRESENT, ks=(1, 2, 4, 8), cap=8) == {1: 3.0, 2: 1.0, 4: 0.5, 8: 0.5}


def test_brier_score_against_the_true_share():
    assert brier_score([0.3, 0.7], [0.3, 0.7]) == 0.0
    assert brier_score([0.0, 1.0], [0.5, 0.5]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        brier_score([1.5], [0.5])


def test_reliability_bins_forecasts():
    r = reliability([0.05, 0.1, 0.9, 0.95], [0.0, 0.2, 1.0, 0.8], num_bins=5)
    assert r["count"] == [2, 2] and r["forecast"] == pytest.approx([0.075, 0.925])
    assert r["observed"] == pytest.approx([0.1, 0.9])


def test_spread_skill_is_one_for_samples_from_the_futures_distribution():
    rng = np.random.default_rng(2)
    B, S, M = 400, 8, 8
    centre = rng.uniform(0, 30, (B, 1, 1, 1, 2))
    draw = lambda n: centre + rng.standard_normal((B, n, 1, 1, 2))
    present = np.ones((B, 1), bool)
    calibrated = spread_skill(draw(S), draw(M), present)
    assert calibrated["ratio"][0] == pytest.approx(1.0, abs=0.1)
    narrow = spread_skill(centre + 0.3 * rng.standard_normal((B, S, 1, 1, 2)), draw(M), present)
    assert narrow["ratio"][0] < 0.5
    lost = spread_skill(draw(S), draw(M), present, samples_found=np.zeros((B, S, 1, 1), bool))
    assert np.isnan(lost["ratio"][0])  # no ball found twice: nothing to measure


def test_evaluate_uncertain_ranks_the_simulator_above_one_future_above_copy_last():
    clips = make_clips("bounce", range(20_000_000, 20_000_012))
    futures = sample_futures(clips, 12)

    def simulator(context, clips_, num_future, num_samples):  # other draws of the same world
        draws = sample_futures(clips_, num_samples, first=1000).frames
        return draws.reshape((len(clips_), num_samples) + draws.shape[1:])[:, :, 8:]

    observed = lambda context, clips_, num_future, num_samples: clips_.frames[:, None, 8:]
    copy_last = baselines.deterministic_sampler(lambda context, clips_, n: baselines.copy_last_frame(context, n))
    scores = {name: evaluate_uncertain(fn, clips, futures, 12)
              for name, fn in (("simulator", simulator), ("observed", observed), ("copy_last", copy_last))}
    assert scores["simulator"]["energy_score"] < scores["observed"]["energy_score"] < scores["copy_last"]["energy_score"]
    assert scores["simulator"]["brier"] < scores["copy_last"]["brier"]
    assert scores["observed"]["best_of"][1] < 0.1  # the observed future is the truth best-of-k scores against
    assert scores["simulator"]["num_samples"] == 12 and scores["copy_last"]["num_samples"] == 1
