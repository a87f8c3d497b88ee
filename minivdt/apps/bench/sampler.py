"""Benchmarks — `minivdt bench sampler`: which sampler and how many steps to use with a trained VDT, chosen on
validation clips (never on the test clips that `bench quality` reports).

A model trained to predict x_0 can be sampled in one step (x̂_0 from pure noise) or refined over many; ancestral
DDPM adds fresh noise at every step, DDIM does not. Which is best for forward prediction is an empirical question,
so every candidate predicts the same val clips of every scenario with the same seed, and the lowest mean position
error wins (fewer steps on a tie).

Generation from nothing is another question: the one-step x̂_0 that suits forward prediction is a blur of every
possible scene. Every candidate also draws unconditional samples from noise seeds that `bench quality` does not
use, and the one whose samples hold the number of balls per frame closest to real clips is recorded for that task.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...baselines import vdt_predictor
from ...cards import num_given_of, read_card, training_config_of, write_card_sampling
from ...course import default_checkpoint
from ...data import clip_config, split_seeds
from ...diffusion import SCHEDULERS
from ...metrics import evaluate, to_jsonable
from ...training import load_model, pick_device
from ...world import SCENARIOS, STOCHASTIC_SCENARIOS, make_clips, make_world
from .common import md_stamp, md_table, publish, render_files, set_threads, stamp
from .physics import unconditional_ball_counts
from .stochastic import STOCHASTIC_CANDIDATES, sampler_scores

CANDIDATES = ("ddpm:25", "ddpm:50", "ddim:25", "ddim:10", "ddim:5", "ddim:2", "ddim:1", "dpm:10", "dpm:25")


def parse_candidate(text: str) -> tuple[str, int]:
    """"ddim:10" -> ("ddim", 10), with a clear error for anything else."""
    sampler, _, steps = str(text).partition(":")
    if sampler not in SCHEDULERS or not steps.isdigit() or not 1 <= int(steps) <= 1000:
        raise ValueError(f"sampler candidates must look like NAME:STEPS with NAME in {tuple(SCHEDULERS)} and "
                         f"1 <= STEPS <= 1000, got {text!r}")
    return sampler, int(steps)


def bench_sampler(checkpoint=None, candidates=CANDIDATES, num_val: int = 32, scenarios=SCENARIOS, seed: int = 0,
                  progress=print, num_unconditional: int = 32, stochastic_candidates=STOCHASTIC_CANDIDATES) -> dict:
    """Score every "sampler:steps" candidate on `num_val` val clips per scenario, and on `num_unconditional`
    unconditional samples from each of noise seeds seed + 1 and seed + 2; a model trained on stochastic scenarios
    also has stochastic_candidates scored by the energy score (stochastic.sampler_scores) -> results and choices."""
    parsed = [parse_candidate(c) for c in candidates]
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    model = load_model(checkpoint, device=pick_device())
    config = clip_config(model)
    num_given = num_given_of(checkpoint, config.num_frames)
    val = {s: make_clips(s, split_seeds("val", num_val), config) for s in scenarios}
    trained_on = tuple(training_config_of(checkpoint).get("scenarios", SCENARIOS))
    rows = []
    for sampler, steps in parsed:
        start = time.perf_counter()
        predict = vdt_predictor(model, steps=steps, seed=seed, sampler=sampler)
        scores = {s: evaluate(predict, clips, num_given) for s, clips in val.items()}
        seconds = time.perf_counter() - start
        # the real reference is the mix of training scenarios, as in bench quality
        counts = [unconditional_ball_counts(model, num_unconditional, steps, seed + k, config, sampler, trained_on)
                  for k in (1, 2)]
        rows.append(dict(sampler=sampler, steps=steps,
                         unconditional=dict(model=float(np.mean([c["model"] for c in counts])),
                                            real=counts[0]["real"],
                                            ratio=float(np.mean([c["ratio"] for c in counts])),
                                            seeds=[seed + 1, seed + 2], num_clips=num_unconditional),
                         position_error={s: r["position_error"] for s, r in scores.items()},
                         lost={s: r["lost_fraction"] for s, r in scores.items()},
                         mean_position_error=float(np.mean([r["position_error"] for r in scores.values()])),
                         mean_lost=float(np.mean([r["lost_fraction"] for r in scores.values()])),
                         seconds_per_clip=seconds / (num_val * len(val))))
        progress(f"sampler: {sampler} {steps:>3} steps: {rows[-1]['mean_position_error']:.2f} px, "
                 f"{rows[-1]['mean_lost']:.1%} lost, {rows[-1]['seconds_per_clip']:.2f} s/clip, unconditional "
                 f"{rows[-1]['unconditional']['model']:.2f} balls/frame (real {rows[-1]['unconditional']['real']:.2f})")
    best = min(rows, key=lambda r: (round(r["mean_position_error"], 2), r["steps"]))
    fullest = min(rows, key=lambda r: (round(abs(r["unconditional"]["ratio"] - 1), 2), r["steps"]))
    choice = dict(sampler=best["sampler"], steps=best["steps"],
                  unconditional=dict(sampler=fullest["sampler"], steps=fullest["steps"]))
    uncertain = []
    if set(trained_on) & set(STOCHASTIC_SCENARIOS):  # its own choice: the lowest energy score against the futures
        world = make_world(training_config_of(checkpoint).get("world") or {}, size=config.size,
                           num_frames=config.num_frames)
        uncertain = sampler_scores(model, [parse_candidate(c) for c in stochastic_candidates], world, num_given,
                                   num_val, seed=seed, progress=progress)
        calmest = min(uncertain, key=lambda r: (round(r["energy"], 2), r["steps"]))
        choice["stochastic"] = dict(sampler=calmest["sampler"], steps=calmest["steps"])
    return to_jsonable(dict(section="sampler", checkpoint=str(checkpoint), num_val_per_scenario=num_val, seed=seed,
                            rows=rows, stochastic_rows=uncertain, choice=choice, **stamp()))


def render(result: dict, page) -> str:
    """BENCHMARKS.md's sampler section."""
    scenarios = list(result["rows"][0]["position_error"])
    u, choice = result["rows"][0]["unconditional"], result["choice"]
    lines = ["## Sampler (chosen on validation clips)", ""] + md_stamp(result)
    lines += [f"Checkpoint `{result['checkpoint']}`, {result['num_val_per_scenario']} validation clips per scenario, "
              f"seed {result['seed']}; the lowest mean position error wins. Unconditional: balls per frame found in "
              f"{u['num_clips']} samples from each of noise seeds {' and '.join(map(str, u['seeds']))} (not the seed "
              f"bench quality reports), against {u['real']:.2f} in real clips; the closest ratio wins.", ""]
    lines += md_table(["sampler", "steps", "mean px", "lost", "s/clip", *scenarios,
                       "unconditional balls/frame (ratio)"],
                      [[r["sampler"], r["steps"], f"{r['mean_position_error']:.2f}", f"{r['mean_lost']:.1%}",
                        f"{r['seconds_per_clip']:.2f}", *(f"{r['position_error'][s]:.2f}" for s in scenarios),
                        f"{r['unconditional']['model']:.2f} ({r['unconditional']['ratio']:.2f})"]
                       for r in result["rows"]])
    lines += ["", f"Chosen for forward prediction: **{choice['sampler']}, {choice['steps']} steps**.",
              f"Chosen for unconditional generation: **{choice['unconditional']['sampler']}, "
              f"{choice['unconditional']['steps']} steps**.", ""]
    if result.get("stochastic_rows"):
        lines += ["Stochastic scenarios: each candidate draws 8 futures of the same validation clips, scored by the "
                  "energy score against 16 simulator futures (lesson 9); the lowest wins.", "",
                  *md_table(["sampler", "steps", "energy px", "lost", "Brier"],
                            [[r["sampler"], r["steps"], f"{r['energy']:.3f}", f"{r['lost']:.1%}", f"{r['brier']:.3f}"]
                             for r in result["stochastic_rows"]]),
                  "", f"Chosen for uncertain futures: **{choice['stochastic']['sampler']}, "
                      f"{choice['stochastic']['steps']} steps**.", ""]
    return "\n".join(lines)


def main(args) -> dict:
    """`minivdt bench sampler`."""
    set_threads(args)
    candidates = args.candidates or (("ddim:1", "ddpm:2") if args.quick else CANDIDATES)
    result = bench_sampler(args.checkpoint, candidates, num_val=1 if args.quick else args.num_val,
                           scenarios=("drop",) if args.quick else SCENARIOS, num_unconditional=2 if args.quick else 32,
                           stochastic_candidates=candidates if args.quick else STOCHASTIC_CANDIDATES)
    result["quick"] = args.quick
    if args.write_card:
        choice = dict(result["choice"], chosen_by=f"minivdt bench sampler ({result['num_val_per_scenario']} "
                                                  f"validation clips per scenario, {result['date']})")
        print(f"wrote {write_card_sampling(result['checkpoint'], choice)}")
    return publish("sampler", result, render, args)


def rerender(args):
    """`minivdt bench report`: the section again from sampler.json."""
    render_files(("sampler",), render, args)
