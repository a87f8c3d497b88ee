"""Lesson 9 — notebooks/09_uncertain_future.ipynb. Scores for a forecast of an uncertain future.

When the past does not fix the future (a rough floor, world.STOCHASTIC_SCENARIOS), "how far is the prediction from
the truth?" rewards a blurred average of every possible future. These scores compare a method's K samples with the
simulator's own M futures of the same clip (minivdt.futures.sample_futures), on the tracked ball positions:

- `energy_score`: the multivariate CRPS, a proper scoring rule: a forecast scores best by putting its samples where
  futures land, in the right proportions. A deterministic predictor is one sample (K = 1), so regressors, trivial
  baselines and sampled ensembles share one scale (px).
- `best_of_k`: the error of the best of k samples against the observed future (what "a good sample exists" buys).
- `brier_score` and `reliability`: the share of a method's samples in which the agent touches the target, against the
  share of the simulator's futures in which it does (the Physion question with honest uncertainty).
- `spread_skill`: the spread of the samples against the error of their mean; a calibrated ensemble has them equal.

Distances are per ball, capped at `cap` px as metrics.position_errors does; a lost ball counts as `cap` away from any
found one, so a blurred ghost is no cheaper than a wrong guess.
"""

from __future__ import annotations

import math

import numpy as np

from ..world import ClipBatch
from .frames import contact_readout, track_balls, track_errors

__all__ = ["ball_distance", "energy_score", "best_of_k", "brier_score", "reliability", "spread_skill",
           "contact_shares", "evaluate_uncertain", "format_uncertain"]


def _cap(cap, width):
    return width / 4 if cap is None else float(cap)


def ball_distance(a, b, present, found_a=None, found_b=None, cap: float = 8.0) -> np.ndarray:
    """Distance between two sets of ball positions: the mean over present balls of min(|a_k - b_k|, cap).

    a, b (..., K, 2) px; present (..., K); found_a, found_b (..., K) or None (all found). A ball found in one and
    lost in the other is `cap` apart; lost in both is 0 apart (they agree that it is gone). -> (...).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    found_a = np.ones(shape, bool) if found_a is None else np.broadcast_to(np.asarray(found_a, bool), shape)
    found_b = np.ones(shape, bool) if found_b is None else np.broadcast_to(np.asarray(found_b, bool), shape)
    present = np.broadcast_to(np.asarray(present, bool), shape)
    d = np.minimum(np.linalg.norm(a - b, axis=-1), cap)
    d = np.where(found_a & found_b, d, np.where(found_a == found_b, 0.0, cap))
    return np.where(present, d, 0.0).sum(-1) / np.maximum(present.sum(-1), 1)


def energy_score(samples, futures, present, samples_found=None, cap: float = 8.0) -> np.ndarray:
    """Energy score per clip and frame: E d(X, Y) - 1/2 E d(X, X'), X, X' samples, Y simulator futures (lower is better).

    samples (B, S, F, K, 2) px with samples_found (B, S, F, K); futures (B, M, F, K, 2) (the simulator's, every ball
    found); present (B, K). The spread term uses the S(S-1) pairs of distinct samples (the "fair" estimate), so it is
    0 for a single prediction (S = 1), which then scores its mean distance to the futures. -> (B, F).
    """
    samples, futures = np.asarray(samples, np.float64), np.asarray(futures, np.float64)
    if samples.ndim != 5 or futures.ndim != 5 or samples.shape[2:] != futures.shape[2:] \
            or len(samples) != len(futures):
        raise ValueError(f"samples (B, S, F, K, 2) and futures (B, M, F, K, 2) must agree, got {samples.shape} and "
                         f"{futures.shape}")
    S = samples.shape[1]
    present = np.asarray(present, bool)[:, None, None, None, :]  # (B, 1, 1, 1, K)
    found = None if samples_found is None else np.asarray(samples_found, bool)
    # (B, S, M, F): every sample against every future
    skill = ball_distance(samples[:, :, None], futures[:, None], present,
                          None if found is None else found[:, :, None], None, cap).mean((1, 2))
    if S == 1:
        return skill
    pair_found = (None, None) if found is None else (found[:, :, None], found[:, None])
    spread = ball_distance(samples[:, :, None], samples[:, None], present, *pair_found, cap)  # (B, S, S, F)
    return skill - 0.5 * spread.sum((1, 2)) / (S * (S - 1))


def best_of_k(samples, observed, present, samples_found=None, ks=(1, 4, 8), cap: float = 8.0,
              per_clip: bool = False) -> dict:
    """Mean over clips of the lowest position error among the first k samples, against the observed future.

    samples (B, S, F, K, 2), observed (B, F, K, 2) px; the error of a sample is metrics.position_errors' (mean over
    frames). k larger than S uses all S. -> {k: px}, or {k: (B,) per clip} with per_clip.
    """
    samples = np.asarray(samples, np.float64)
    found = np.ones(samples.shape[:-1], bool) if samples_found is None else np.asarray(samples_found, bool)
    errors, _ = track_errors(samples, found, np.asarray(observed)[:, None], np.asarray(present)[:, None], cap)
    per_sample = errors.mean(-1)  # (B, S)
    best = {int(k): per_sample[:, :min(k, samples.shape[1])].min(1) for k in ks}  # (B,) each
    return best if per_clip else {k: float(v.mean()) for k, v in best.items()}


def brier_score(probability, target) -> float:
    """Mean squared difference between a forecast probability and the true one, both (B,) in [0, 1].

    Against the simulator's share q of futures with the event (not one 0/1 draw of it), the score is 0 only for the
    forecast p = q; a confident regressor that says 0 or 1 pays (1 - q)^2 or q^2 on every uncertain clip.
    """
    p, q = np.asarray(probability, np.float64), np.asarray(target, np.float64)
    if p.shape != q.shape or np.any((p < 0) | (p > 1) | (q < 0) | (q > 1)):
        raise ValueError(f"probability and target must be equal-shaped arrays in [0, 1], got {p.shape} and {q.shape}")
    return float(np.mean((p - q) ** 2))


def reliability(probability, target, num_bins: int = 5) -> dict:
    """The reliability diagram's points: per bin of forecast probability, its mean forecast, the mean true share and
    the count of clips (empty bins are left out). A reliable forecast lies on the diagonal."""
    p, q = np.asarray(probability, np.float64), np.asarray(target, np.float64)
    bins = np.minimum((p * num_bins).astype(int), num_bins - 1)
    keep = [b for b in range(num_bins) if np.any(bins == b)]
    return dict(forecast=[float(p[bins == b].mean()) for b in keep], observed=[float(q[bins == b].mean()) for b in keep],
                count=[int(np.sum(bins == b)) for b in keep])


def spread_skill(samples, futures, present, samples_found=None) -> dict:
    """Per future frame: the spread of the samples about their mean and the error of that mean against the futures.

    spread^2 = (S+1)/S times the unbiased variance of the found samples of a ball about their mean; skill^2 = the mean
    squared distance of that mean to the simulator's futures. If the samples are drawn from the futures' own
    distribution both are equal in expectation, so ratio = spread / skill near 1 is calibrated; < 1 is over-confident
    (a single prediction has ratio 0). Balls found in fewer than 2 samples are left out. -> per frame arrays (px).
    """
    samples, futures = np.asarray(samples, np.float64), np.asarray(futures, np.float64)
    found = np.ones(samples.shape[:-1], bool) if samples_found is None else np.asarray(samples_found, bool)
    n = found.sum(1)  # (B, F, K) samples that found the ball
    mean = np.where(found[..., None], samples, 0.0).sum(1) / np.maximum(n, 1)[..., None]  # (B, F, K, 2)
    square = np.where(found, ((samples - mean[:, None]) ** 2).sum(-1), 0.0).sum(1)  # (B, F, K)
    use = (n >= 2) & np.asarray(present, bool)[:, None, :]
    spread2 = square / np.maximum(n - 1, 1) * (n + 1) / np.maximum(n, 1)
    skill2 = ((mean[:, None] - futures) ** 2).sum(-1).mean(1)  # (B, F, K)
    count = np.maximum(use.sum((0, 2)), 1)
    spread = np.sqrt(np.where(use, spread2, 0.0).sum((0, 2)) / count)
    skill = np.sqrt(np.where(use, skill2, 0.0).sum((0, 2)) / count)
    return dict(spread=spread, skill=skill, ratio=np.where(skill > 0, spread / np.maximum(skill, 1e-12), np.nan))


def contact_shares(past_positions, tracked, found, clips: ClipBatch) -> np.ndarray:
    """Share of a method's samples in which the agent touches the target: true positions of the given frames
    (B, G, K, 2) then tracked samples (B, S, F, K, 2) with found (B, S, F, K) -> (B,), as metrics.evaluate reads it."""
    S = tracked.shape[1]
    touches = []
    for s in range(S):
        positions = np.concatenate([past_positions, tracked[:, s, :, :past_positions.shape[2]]], 1)
        seen = np.concatenate([np.ones(past_positions.shape[:3], bool), found[:, s, :, :past_positions.shape[2]]], 1)
        touches.append(contact_readout(positions, clips, seen))
    return np.mean(touches, axis=0)


def evaluate_uncertain(sample_fn, clips: ClipBatch, futures: ClipBatch, num_samples: int, num_given: int = 8,
                       ks=(1, 4, 8)) -> dict:
    """Score sample_fn(context (B, G, H, W, 3) uint8, clips, num_future, num_samples) -> (B, S, F_future, H, W, 3)
    uint8 against `futures`, the simulator's M futures of each clip (futures.sample_futures, clip-major).

    A deterministic method returns S = 1 whatever num_samples says. Returns the energy score (mean and per frame),
    best-of-k against the observed future, the lost-ball fraction, the contact Brier score with the reliability
    points, and spread-skill per frame.
    """
    B, F = clips.frames.shape[:2]
    M = len(futures) // B
    num_future = F - num_given
    pred = np.asarray(sample_fn(clips.frames[:, :num_given], clips, num_future, num_samples))
    if pred.dtype != np.uint8 or pred.ndim != 6 or pred.shape[0] != B or pred.shape[2:] != (num_future,) + \
            clips.frames.shape[2:]:
        raise ValueError(f"sample_fn must return uint8 (B, S, {num_future}, H, W, 3), got {pred.dtype} {pred.shape}")
    cap = _cap(None, clips.frames.shape[-2])
    tracked, found = track_balls(pred)  # (B, S, F_future, K, 2), (B, S, F_future, K)
    K = clips.positions.shape[2]
    tracked, found = tracked[..., :K, :], found[..., :K]
    future_positions = futures.positions.reshape((B, M) + futures.positions.shape[1:])[:, :, num_given:]
    score = energy_score(tracked, future_positions, clips.present, found, cap)  # (B, F_future)
    present = np.broadcast_to(clips.present[:, None, None], found.shape)
    lost = (present & ~found).sum((2, 3)) / np.maximum(present.sum((2, 3)), 1)  # (B, S)
    p = contact_shares(clips.positions[:, :num_given], tracked, found, clips)
    q = futures.contact.reshape(B, M).mean(1)
    best = best_of_k(tracked, clips.positions[:, num_given:], clips.present, found, ks, cap, per_clip=True)
    return dict(
        energy_score=float(score.mean()), energy_score_per_step=score.mean(0), energy_score_per_clip=score.mean(1),
        best_of={k: float(v.mean()) for k, v in best.items()}, best_of_per_clip=best,
        lost_fraction=float(lost.mean()), lost_per_clip=lost.mean(1),
        brier=float(brier_score(p, q)), brier_per_clip=(p - q) ** 2, contact_forecast=p, contact_truth=q,
        reliability=reliability(p, q), spread_skill=spread_skill(tracked, future_positions, clips.present, found),
        num_clips=B, num_futures=M, num_samples=int(pred.shape[1]))


def format_uncertain(results: dict) -> str:
    """Printable table of evaluate_uncertain results: {scenario: {method: result}}."""
    header = f"{'scenario':<11}{'method':<22}{'energy px':>10}{'best-of-1':>10}{'best-of-8':>10}{'lost':>7}" \
             f"{'Brier':>7}{'spread/skill':>13}"
    lines = [header, "-" * len(header)]
    for scenario, methods in results.items():
        for name, r in methods.items():
            ratio = float(np.nanmean(r["spread_skill"]["ratio"])) if r["num_samples"] > 1 else float("nan")
            lines.append(f"{scenario:<11}{name:<22}{r['energy_score']:>10.2f}{r['best_of'][1]:>10.2f}"
                         f"{r['best_of'][max(r['best_of'])]:>10.2f}{r['lost_fraction']:>7.2f}{r['brier']:>7.3f}"
                         f"{'-' if math.isnan(ratio) else f'{ratio:.2f}':>13}")
    return "\n".join(lines)
