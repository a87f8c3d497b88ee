"""Benchmarks — what a diffusion model of physics should also show (`minivdt bench quality` adds these):

- best-of-k: k sampled futures per clip, the best one scored (a regressor has one future; a diffusion model many);
- unconditional samples: does the tracker find as many balls per frame as in real clips?
- context sensitivity: how much worse the one-shot x̂_0 at t = T-1 gets when the given frames are another clip's.

A changed world (other gravity, restitution, ...) is `minivdt eval CHECKPOINT --world KEY=VALUE,...`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ...baselines import vdt_predictor
from ...data import clip_config, split_seeds
from ...diffusion import DEFAULT_SAMPLER, DEFAULT_STEPS, NUM_TRAIN_TIMESTEPS, generate
from ...metrics import position_errors, track_balls
from ...world import BALL_COLOR_NAMES, SCENARIOS, WorldConfig, make_clips
from .common import md_table
from .study import one_shot_error

def best_of_k(model, clips, ks=(1, 4, 8), num_given: int = 8, steps: int = DEFAULT_STEPS, seed: int = 0,
              sampler: str = DEFAULT_SAMPLER) -> dict:
    """{"k": mean over clips of the lowest position error among k sampled futures} (seeds seed .. seed+k-1)."""
    per_sample = []
    for s in range(max(ks)):
        future = vdt_predictor(model, steps=steps, seed=seed + s, sampler=sampler)(
            clips.frames[:, :num_given], clips, clips.frames.shape[1] - num_given)
        errors, _ = position_errors(future, clips.positions[:, num_given:], clips.present)
        per_sample.append(errors.mean(-1))  # (B,) mean over the future frames
    per_sample = np.stack(per_sample)  # (k, B)
    return {str(k): float(per_sample[:k].min(0).mean()) for k in ks}


def colour_shares(found, num_balls: int = 3) -> tuple[float, ...]:
    """For each ball colour (BALL_COLOR_NAMES), the share of frames in which the tracker found it, from track_balls'
    `found` (B, F, K); the shares sum to the balls found per frame."""
    return tuple(float(f) for f in np.asarray(found)[..., :num_balls].mean((0, 1)))


def real_ball_fractions(num_clips: int, config: WorldConfig, scenarios=SCENARIOS) -> tuple[float, ...]:
    """colour_shares of real clips (val split, `num_clips` per scenario, equal shares of the scenarios).
    Cached: every candidate of `bench sampler` compares with the same clips."""
    return _real_ball_fractions(num_clips, tuple(dataclasses.asdict(config).items()), tuple(scenarios))


@functools.lru_cache(maxsize=4)
def _real_ball_fractions(num_clips: int, config_items: tuple, scenarios: tuple) -> tuple[float, ...]:
    config = WorldConfig(**dict(config_items))
    per_scenario = [colour_shares(track_balls(make_clips(s, split_seeds("val", num_clips), config).frames)[1])
                    for s in scenarios]
    return tuple(float(f) for f in np.mean(per_scenario, axis=0))


def unconditional_ball_counts(model, num_clips: int = 32, steps: int = DEFAULT_STEPS, seed: int = 0, config=None,
                              sampler: str = DEFAULT_SAMPLER, scenarios=SCENARIOS) -> dict:
    """Balls found per frame in `num_clips` unconditional samples vs in real clips (val split, `num_clips` per
    scenario) of the scenarios the model was trained on, in equal shares as in its training set. A sample from
    nothing is a draw from that whole mix, so the clips of one scenario (mixed holds the most balls) would be the
    wrong reference. by_colour says which balls are missing: the share of frames holding each colour, and
    empty_frames the share of sample frames with no ball at all."""
    config = config or clip_config(model)
    real = real_ball_fractions(num_clips, config, scenarios)
    blank = np.zeros((num_clips, config.num_frames, config.size, config.size, 3), np.uint8)  # only the shape
    samples = generate(model, blank, "unconditional", steps=steps, seed=seed, sampler=sampler)
    _, found = track_balls(samples)  # (B, F, K)
    fractions = colour_shares(found, len(real))
    model_count, real_count = float(sum(fractions)), float(sum(real))
    return dict(model=model_count, real=real_count, ratio=model_count / real_count, scenarios=list(scenarios),
                by_colour={name: dict(model=m, real=r) for name, m, r in zip(BALL_COLOR_NAMES, fractions, real)},
                empty_frames=float((~found.any(-1)).mean()))


def context_sensitivity(model, clips_by_scenario: dict) -> dict:
    """{scenario: {"own": px, "swapped": px, "rise": px}} of the one-shot x̂_0 at t = T-1."""
    result = {}
    for scenario, clips in clips_by_scenario.items():
        own = one_shot_error(model, clips, NUM_TRAIN_TIMESTEPS - 1)
        swapped = one_shot_error(model, clips, NUM_TRAIN_TIMESTEPS - 1, swap_context=True)
        result[scenario] = dict(own=own, swapped=swapped, rise=swapped - own)
    return result


def physics_markdown(physics: dict) -> list[str]:
    """BENCHMARKS.md lines for the extras: best-of-k, unconditional ball counts, context swap."""
    ks = list(next(iter(physics["best_of_k"].values())))
    lines = ["### Several futures: best-of-k (position error px of the best of k samples per clip)", ""]
    lines += md_table(["scenario"] + [f"k = {k}" for k in ks],
                      [[s] + [f"{v[k]:.2f}" for k in ks] for s, v in physics["best_of_k"].items()])
    counts = physics["unconditional_ball_counts"]
    lines += ["", f"Unconditional samples ({counts['sampler'].upper()}, {counts['steps']} steps): the tracker finds "
                  f"{counts['model']:.2f} balls per frame, real clips have {counts['real']:.2f} (ratio "
                  f"{counts['ratio']:.2f}; real clips: {', '.join(counts['scenarios'])}, equal shares as in training).",
              "", "Which balls: the share of frames in which the tracker finds each colour, unconditional samples vs "
                  "real clips: " + ", ".join(f"{name} {c['model']:.2f} vs {c['real']:.2f}"
                                             for name, c in counts["by_colour"].items())
              + f"; sample frames with no ball at all: {counts['empty_frames']:.0%}."]
    lines += ["", "### Does the model read its context? (one-shot x̂₀ at t = T-1, position error px)", ""]
    lines += md_table(["scenario", "own given frames", "another clip's", "rise"],
                      [[s, f"{v['own']:.2f}", f"{v['swapped']:.2f}", f"{v['rise']:+.2f}"]
                       for s, v in physics["context_sensitivity"].items()])
    return lines
