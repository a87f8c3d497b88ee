"""Benchmarks — `minivdt bench stochastic` (lesson 9): forecasts of an uncertain future, scored against the simulator.

On the stochastic scenarios (a rough floor: world.STOCHASTIC_SCENARIOS) every method predicts frames 9-16 of held-out
test clips and is scored against M simulator futures of each clip (futures.sample_futures) with metrics.uncertain:
the energy score per future frame, best-of-1/4/8 against the observed future, lost balls, the Brier score of the
contact read-out and spread-skill. The VDT is sampled with its card's choice for uncertain futures (`bench sampler`)
and with one DDIM step; deterministic methods (the equal-budget SimVP-CNN, copy-last, constant velocity, uniform
noise, blank) are one sample each. Every number has its standard error over clips, and each method's energy score is
paired with the VDT's on the same clips.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...baselines import BASELINES, REFERENCES, cnn_predictor, deterministic_sampler, vdt_sampler
from ...cards import num_given_of, read_card, sampling_of, total_train_seconds, training_config_of
from ...course import default_checkpoint
from ...data import split_seeds
from ...futures import sample_futures
from ...metrics import evaluate_uncertain, to_jsonable
from ...training import load_model, pick_device
from ...world import STOCHASTIC_SCENARIOS, make_clips, make_world
from .common import CNN_NAME, TRIVIAL, md_stamp, md_table, publish, render_files, set_threads, stamp, shown
from .quality import load_cnn_run

KS = (1, 4, 8)
# `bench sampler`'s candidates for uncertain futures: the chain lengths worth comparing, and one step
STOCHASTIC_CANDIDATES = ("ddpm:25", "ddpm:50", "ddim:25", "ddim:10", "ddim:1", "dpm:10", "dpm:25")
SPREAD_SKILL_RANGE = (0.7, 1.3)  # issue 22's calibration target, per future frame
LOST_TARGET = 0.03


def _mean_se(values) -> dict:
    values = np.asarray(values, np.float64)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return dict(mean=float(values.mean()), se=se)


def _row(result) -> dict:
    """One method's result as the JSON keeps it: means with standard errors over clips, per-step curves."""
    return dict(
        energy=_mean_se(result["energy_score_per_clip"]), energy_per_step=result["energy_score_per_step"],
        best_of={k: _mean_se(v) for k, v in result["best_of_per_clip"].items()},
        lost=_mean_se(result["lost_per_clip"]), brier=_mean_se(result["brier_per_clip"]),
        spread=result["spread_skill"]["spread"], skill=result["spread_skill"]["skill"],
        spread_skill=result["spread_skill"]["ratio"], num_samples=result["num_samples"],
        reliability=result["reliability"])


def bench_stochastic(checkpoint=None, cnn_run=None, num_clips: int = 64, num_futures: int = 16,
                     num_samples: int = 16, seed: int = 0, quick: bool = False, progress=print, curve=None) -> dict:
    """Score every method on `num_clips` test clips per stochastic scenario -> the section's JSON data. curve: the
    VDT run's curve.jsonl (assets/train_stochastic.py), kept beside the CNN's training curve."""
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    cnn_info = None
    if cnn_run is not None:
        cnn, cnn_info = load_cnn_run(cnn_run, total_train_seconds(read_card(checkpoint)))
    vdt_curve = [] if curve is None else _read_curve(curve)
    model = load_model(checkpoint, device=pick_device())
    trained = training_config_of(checkpoint)
    world = make_world(trained.get("world") or {}, size=model.cfg.height, num_frames=model.cfg.num_frames)
    num_given = num_given_of(checkpoint, model.cfg.num_frames)
    sampler, steps = sampling_of(checkpoint, "stochastic")
    vdt = f"VDT {sampler}-{steps}"
    methods = {vdt: vdt_sampler(model, steps, seed, sampler), "VDT ddim-1": vdt_sampler(model, 1, seed, "ddim")}
    if cnn_run is not None:
        methods[CNN_NAME] = deterministic_sampler(cnn_predictor(cnn.to(pick_device())))
    for name in TRIVIAL:
        methods[name] = deterministic_sampler(BASELINES[name])
    for name, fn in REFERENCES.items():
        methods[name] = deterministic_sampler(fn)
    scenarios = {}
    for scenario in STOCHASTIC_SCENARIOS:
        clips = make_clips(scenario, split_seeds("test", num_clips), world)
        futures = sample_futures(clips, num_futures, num_given, scenario=scenario)
        results = {}
        for name, fn in methods.items():
            progress(f"stochastic: {scenario}, {name}")
            results[name] = evaluate_uncertain(fn, clips, futures, num_samples, num_given, KS)
        rows = {name: _row(r) for name, r in results.items()}
        base = results[vdt]["energy_score_per_clip"]
        for name, r in results.items():  # paired with the VDT on the same clips: > 0 means the VDT is lower
            rows[name]["energy_minus_vdt"] = _mean_se(r["energy_score_per_clip"] - base)
            rows[name]["brier_minus_vdt"] = _mean_se(r["brier_per_clip"] - results[vdt]["brier_per_clip"])
        scenarios[scenario] = rows
    return to_jsonable(dict(
        section="stochastic", quick=quick, checkpoint=str(checkpoint), vdt=vdt, num_clips=num_clips,
        num_futures=num_futures, num_samples=num_samples, num_given=num_given, world=trained.get("world") or {},
        cnn=None if cnn_info is None else dict(run=str(cnn_run), **cnn_info), scenarios=scenarios,
        vdt_curve=vdt_curve, **stamp()))


def sampler_scores(model, candidates, world, num_given: int, num_val: int = 32, num_futures: int = 16,
                   num_samples: int = 8, seed: int = 0, progress=print) -> list[dict]:
    """`bench sampler` on the stochastic scenarios: every (sampler, steps) candidate draws num_samples futures of
    num_val *validation* clips, scored by the energy score against num_futures simulator futures (lower wins)."""
    clips = {s: make_clips(s, split_seeds("val", num_val), world) for s in STOCHASTIC_SCENARIOS}
    futures = {s: sample_futures(c, num_futures, num_given, scenario=s) for s, c in clips.items()}
    rows = []
    for sampler, steps in candidates:
        fn = vdt_sampler(model, steps, seed, sampler)
        results = {s: evaluate_uncertain(fn, c, futures[s], num_samples, num_given, KS) for s, c in clips.items()}
        rows.append(dict(sampler=sampler, steps=steps,
                         energy=float(np.mean([r["energy_score"] for r in results.values()])),
                         lost=float(np.mean([r["lost_fraction"] for r in results.values()])),
                         brier=float(np.mean([r["brier"] for r in results.values()]))))
        progress(f"sampler (stochastic): {sampler} {steps:>3} steps: energy {rows[-1]['energy']:.3f} px, "
                 f"{rows[-1]['lost']:.1%} lost")
    return rows


def targets(data) -> list[tuple[str, str, bool]]:
    """Issue 22's targets on each stochastic scenario: (target, measured, met)."""
    out, vdt = [], data["vdt"]
    for scenario, rows in data["scenarios"].items():
        v = rows[vdt]
        for name in ([CNN_NAME] if CNN_NAME in rows else []) + list(TRIVIAL):
            d = rows[name]["energy_minus_vdt"]
            out.append((f"{scenario}: energy below {name} by > 2 SE", f"{name} - VDT = {d['mean']:+.3f} ± "
                        f"{d['se']:.3f} px", d["mean"] > 2 * d["se"]))
        if CNN_NAME in rows:
            cnn_error = rows[CNN_NAME]["best_of"]["1"]["mean"]
            out.append((f"{scenario}: best-of-8 below the CNN's error", f"{v['best_of']['8']['mean']:.2f} vs "
                        f"{cnn_error:.2f} px", v["best_of"]["8"]["mean"] < cnn_error))
            out.append((f"{scenario}: Brier below the CNN's", f"{v['brier']['mean']:.3f} vs "
                        f"{rows[CNN_NAME]['brier']['mean']:.3f}", v["brier"]["mean"] < rows[CNN_NAME]["brier"]["mean"]))
        out.append((f"{scenario}: lost balls < {LOST_TARGET:.0%}", f"{v['lost']['mean']:.1%}",
                    v["lost"]["mean"] < LOST_TARGET))
        one = rows["VDT ddim-1"]["energy_minus_vdt"]
        out.append((f"{scenario}: {vdt.removeprefix('VDT ')} beats ddim-1 on energy", f"ddim-1 - {vdt} = "
                    f"{one['mean']:+.3f} ± {one['se']:.3f} px", one["mean"] > 0))
        ratio = np.asarray(v["spread_skill"], float)
        low, high = SPREAD_SKILL_RANGE
        out.append((f"{scenario}: spread/skill in [{low}, {high}] on every future frame",
                    " ".join(f"{r:.2f}" for r in ratio), bool(np.all((ratio >= low) & (ratio <= high)))))
    return out


def _ratio_range(ratio, num_samples) -> str:
    if num_samples == 1:
        return "-"  # one prediction has no spread
    if np.isnan(ratio).all():
        return "n/a"  # no ball found twice in any frame
    return f"{np.nanmin(ratio):.2f}-{np.nanmax(ratio):.2f}"


def _read_curve(path) -> list[dict]:
    """The JSON lines of a curve file; one line naming the file if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--curve {str(path)!r} is not a file")
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--curve {str(path)!r} is not JSON lines ({error})") from None
    needed = ("step", "seconds", "position_error", "bounce_energy_ddpm25", "bounce_energy_ddim1", "bounce_lost_ddpm25")
    if not all(isinstance(r, dict) and all(k in r for k in needed) for r in rows):
        raise ValueError(f"--curve {str(path)!r}: every line needs {needed} (assets/train_stochastic.py's curve.jsonl)")
    return rows


def _curves(data) -> list[str]:
    """Where training stalls: the VDT's and the CNN's validation points during their equal training time."""
    vdt, cnn = data.get("vdt_curve") or [], (data.get("cnn") or {}).get("curve") or []
    if not vdt and not cnn:
        return []
    lines = ["### Training curves (validation clips, during the equal training time)", ""]
    if vdt:
        lines += ["VDT (`assets/benchmarks/stochastic_curve.jsonl`): position error of DDIM-1 on 4 validation clips "
                  "per deterministic scenario; energy score and lost balls on 8 validation bounce clips (8 samples, "
                  "16 futures):", "",
                  *md_table(["step", "train s", "position error px", "bounce energy DDPM-25", "DDIM-1",
                             "lost DDPM-25"],
                            [[r["step"], f"{r['seconds']:.0f}", f"{r['position_error']:.2f}",
                              f"{r['bounce_energy_ddpm25']:.2f}", f"{r['bounce_energy_ddim1']:.2f}",
                              f"{r['bounce_lost_ddpm25']:.1%}"] for r in vdt]), ""]
    if cnn:
        lines += ["SimVP-CNN (its `simvp.json`), the same clips, one prediction:", "",
                  *md_table(["step", "train s", "position error px", "bounce energy"],
                            [[r["step"], f"{r['seconds']:.0f}", f"{r['position_error']:.2f}",
                              f"{r['bounce_energy']:.2f}"] for r in cnn]), ""]
    return lines


def render(data, page) -> str:
    """The section of BENCHMARKS.md, from the JSON alone."""
    cnn = data.get("cnn")
    lines = ["## Stochastic scenarios: forecasts of an uncertain future (`minivdt bench stochastic`, lesson 9)", "",
             *md_stamp(data),
             f"Checkpoint `{shown(data['checkpoint'], page)}`; {data['num_clips']} test clips per scenario, each scored "
             f"against {data['num_futures']} simulator futures of its 8 given frames; {data['vdt']} and ddim-1 draw "
             f"{data['num_samples']} samples per clip, every other method predicts once. Lower is better except "
             "spread/skill (1 = calibrated). ± is one standard error over clips; 'vs VDT' is each method's energy "
             "score minus the VDT's on the same clips.", ""]
    lines += [f"SimVP-CNN: `{shown(cnn['run'], page)}`, fine-tuned from {cnn.get('init', 'scratch')} for "
              f"{cnn['train_seconds']:.0f} s ({cnn['steps']} steps), the VDT's training time.", ""] if cnn else \
        ["SimVP-CNN: not measured here (no `--cnn-run`).", ""]
    for scenario, rows in data["scenarios"].items():
        table = []
        for name, r in rows.items():
            ratio = np.asarray(r["spread_skill"], float)
            table.append([name, f"{r['energy']['mean']:.2f} ± {r['energy']['se']:.2f}",
                          f"{r['energy_minus_vdt']['mean']:+.2f} ± {r['energy_minus_vdt']['se']:.2f}",
                          *(f"{r['best_of'][str(k)]['mean']:.2f}" for k in KS), f"{r['lost']['mean']:.1%}",
                          f"{r['brier']['mean']:.3f} ± {r['brier']['se']:.3f}",
                          _ratio_range(ratio, r["num_samples"])])
        lines += [f"### {scenario}", "", *md_table(["method", "energy px", "vs VDT", *(f"best-of-{k}" for k in KS),
                                                     "lost", "Brier", "spread/skill (frames 9-16)"], table), ""]
        steps = [[name, *(f"{x:.2f}" for x in r["energy_per_step"])] for name, r in rows.items()]
        first = data["num_given"] + 1
        lines += ["Energy score per future frame (px):", "",
                  *md_table(["method", *(f"f{first + i}" for i in range(len(steps[0]) - 1))], steps), ""]
    lines += _curves(data)
    lines += ["### Targets", "", *md_table(["target", "measured", "met"],
                                           [[t, m, "yes" if ok else "no"] for t, m, ok in targets(data)]), ""]
    return "\n".join(lines)


def main(args):
    set_threads(args)
    quick = args.quick
    data = bench_stochastic(checkpoint=args.checkpoint, cnn_run=args.cnn_run, seed=0, quick=quick, curve=args.curve,
                            num_clips=2 if quick else args.num_clips, num_futures=2 if quick else args.futures,
                            num_samples=2 if quick else args.samples)
    publish("stochastic", data, render, args)


def rerender(args):
    render_files(("stochastic",), render, args)
