"""Benchmarks — prediction quality (`minivdt bench quality`): the VDT against copy-last-frame, constant velocity
and a SimVP-CNN trained for the same wall-clock budget, on the test split of each scenario, with learning curves
and the project's targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...baselines import BASELINES, REFERENCES, cnn_predictor, vdt_predictor
from ...cards import CARD_FILE, read_card, sampling_of
from ...course import default_checkpoint
from ...data import clip_config, split_seeds
from ...metrics import evaluate, to_jsonable
from ...training import TrainConfig, load_model, load_training_videos, make_train_config, pick_device
from ...world import SCENARIOS, make_clips
from .common import (CNN_NAME, TRIVIAL, VDT_NAME, eval_subset, md_stamp, md_table, plot_curves, publish,
                     render_files, set_threads, shown, stamp)
from .curves import learning_curve_cnn, learning_curve_from_log, load_cnn_run, save_cnn_run
from .physics import best_of_k, context_sensitivity, physics_markdown, unconditional_ball_counts

# The project's bar for "the VDT learns physics" (BENCHMARKS.md lists each as met or not).
GRAVITY_SCENARIOS = ("drop", "projectile")  # where gravity decides the future
CV_FACTOR = 0.6  # on GRAVITY_SCENARIOS: VDT position error <= CV_FACTOR x constant velocity's
MAX_LOST = 0.03  # fraction of balls the tracker may lose in the VDT's predictions, on every scenario
BALL_COUNT_TOLERANCE = 0.10  # unconditional samples: balls per frame within ±10 % of real clips
CNN_FACTOR = 1.5  # stretch: VDT position error within 1.5x the equal-budget SimVP-CNN's


def _target(met, detail):
    return {"met": bool(met), "detail": detail}


def target_verdict(target: dict) -> str:
    """"met", "NOT met" or "not measured"."""
    return "not measured" if not target.get("measured", True) else "met" if target["met"] else "NOT met"


def _not_measured():
    return {"met": False, "measured": False, "detail": f"this run has no equal-budget {CNN_NAME}"}


def check_targets(results: dict, physics: dict | None = None) -> dict:
    """Each target {"met": bool, "detail": str}, from {scenario: {method: evaluate() dict}} and the physics extras."""
    targets = {}
    for s, methods in results.items():
        vdt = methods[VDT_NAME]
        best = min(TRIVIAL, key=lambda m: methods[m]["position_error"])
        targets[f"{s}: pos err below copy-last and constant velocity"] = _target(
            all(vdt["position_error"] < methods[m]["position_error"] for m in TRIVIAL),
            f"{vdt['position_error']:.2f} vs {best} {methods[best]['position_error']:.2f} px")
        if s in GRAVITY_SCENARIOS:
            cv = methods["constant_velocity"]["position_error"]
            targets[f"{s}: pos err <= {CV_FACTOR} x constant velocity"] = _target(
                vdt["position_error"] <= CV_FACTOR * cv, f"{vdt['position_error']:.2f} vs {CV_FACTOR * cv:.2f} px")
        targets[f"{s}: lost balls < {MAX_LOST:.0%}"] = _target(vdt["lost_fraction"] < MAX_LOST,
                                                              f"{vdt['lost_fraction']:.3f}")
        contact = max(methods[m]["contact_accuracy"] for m in TRIVIAL)
        targets[f"{s}: contact accuracy >= the better trivial baseline"] = _target(
            vdt["contact_accuracy"] >= contact, f"{vdt['contact_accuracy']:.3f} vs {contact:.3f}")
        name = f"{s}: (stretch) pos err <= {CNN_FACTOR} x {CNN_NAME}"
        if CNN_NAME in methods:
            cnn = methods[CNN_NAME]["position_error"]
            targets[name] = _target(vdt["position_error"] <= CNN_FACTOR * cnn,
                                    f"{vdt['position_error']:.2f} vs {CNN_FACTOR * cnn:.2f} px")
        else:
            targets[name] = _not_measured()
    if physics:
        counts = physics["unconditional_ball_counts"]
        targets["unconditional samples: balls per frame within ±10 % of real clips"] = _target(
            abs(counts["ratio"] - 1) <= BALL_COUNT_TOLERANCE,
            f"{counts['model']:.2f} vs {counts['real']:.2f} balls per frame")
        rise = float(np.mean([v["rise"] for v in physics["context_sensitivity"].values()]))
        targets["swapping the given frames makes x̂₀ at t = T-1 worse"] = _target(rise > 0.5, f"+{rise:.2f} px")
        name = f"(stretch) best-of-8 samples below {CNN_NAME} (mean over scenarios)"
        if CNN_NAME in next(iter(results.values())):
            best8 = float(np.mean([v["8"] for v in physics["best_of_k"].values() if "8" in v] or [np.nan]))
            cnn = float(np.mean([results[s][CNN_NAME]["position_error"] for s in results]))
            targets[name] = _target(best8 < cnn, f"{best8:.2f} vs {cnn:.2f} px")
        else:
            targets[name] = _not_measured()
    return targets


def _equal_budget_cnn(cnn_run, budget_s, budget_source, num_train_clips, config, subset, curve_every_s, num_given,
                      seed, quick, progress):
    """The SimVP trained for the VDT's budget on the same training clips: reused from `cnn_run` when it holds one,
    else trained (resumably, when cnn_run names a file to keep it in) -> (curve, model, info)."""
    cnn_kwargs = dict(model_kwargs=dict(hidden=8, translator_width=16, translator_depth=1)) if quick else {}
    if cnn_run is not None and Path(cnn_run).exists():
        progress(f"quality: reusing the {CNN_NAME} trained earlier for {budget_s:.1f} s in {cnn_run}")
        curve, cnn, info = load_cnn_run(cnn_run, budget_s, num_given, config.num_frames - num_given)
    else:
        progress(f"quality: building {num_train_clips} training clips, training {CNN_NAME} for {budget_s:.1f} s "
                 f"(budget from {budget_source}) with {torch.get_num_threads()} threads")
        videos = load_training_videos(make_train_config("cpu-tiny", num_train_clips=num_train_clips,
                                                        image_size=config.size, num_frames=config.num_frames))
        partial = None if cnn_run is None else Path(f"{cnn_run}.partial")  # resumable when the run is kept
        curve, cnn, info = learning_curve_cnn(videos.numpy(), subset, budget_s, curve_every_s, num_given,
                                              seed=seed, partial=partial, device=pick_device(), **cnn_kwargs)
        info["budget_s"] = budget_s
        if cnn_run is not None:
            save_cnn_run(cnn_run, curve, cnn, info, cnn_kwargs.get("model_kwargs"))
    info["budget_source"] = budget_source
    return curve, cnn, info


def bench_quality(checkpoint=None, budget_s=None, num_clips=64, scenarios=SCENARIOS, steps=None, seed=0,
                  num_train_clips=None, curve_every_s=None, curve_clips=4, vdt_run=None,
                  quick=False, progress=print, cnn_run=None, sampler=None, cnn=True) -> dict:
    """VDT vs copy-last-frame, constant velocity and a SimVP trained for the same wall-clock budget, on the test
    split of each scenario; plus learning curves. budget_s defaults to the checkpoint's training.json
    "train_seconds". vdt_run: a run folder or .jsonl whose log has eval points (the VDT's learning curve).
    sampler and steps default to the checkpoint's measured choice (cards.sampling_of); cnn=False leaves the
    SimVP out (its stretch targets are then reported as not measured)."""
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    card = read_card(checkpoint)
    card_sampler, card_steps = sampling_of(checkpoint)
    sampler, steps = sampler or card_sampler, steps or card_steps
    uncond_sampler, uncond_steps = sampling_of(checkpoint, "unconditional")
    uncond_steps = 2 if quick else uncond_steps
    budget_source = "argument"
    if budget_s is None and "train_seconds" in card:
        budget_s, budget_source = float(card["train_seconds"]), f"{checkpoint / CARD_FILE}"
    if cnn and budget_s is None:
        raise ValueError(f"budget_s must be given (seconds of CNN training, e.g. --budget-s 2700): "
                         f"{checkpoint / CARD_FILE} has no \"train_seconds\"")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be positive, got {budget_s!r}")
    model = load_model(checkpoint, device=pick_device())
    vdt_run_curve = learning_curve_from_log(vdt_run) if vdt_run is not None else None  # read before the CNN trains
    config = clip_config(model)
    num_given = config.num_frames // 2
    num_train_clips = num_train_clips or card.get("num_train_clips") or TrainConfig().num_train_clips
    curve_every_s = curve_every_s or (budget_s or 0) / 8 or None

    subset = eval_subset(curve_clips, config, scenarios)
    cnn_model, cnn_info, curves = None, None, {}
    if cnn:
        cnn_curve, cnn_model, cnn_info = _equal_budget_cnn(cnn_run, budget_s, budget_source, num_train_clips, config,
                                                           subset, curve_every_s, num_given, seed, quick, progress)
        curves[CNN_NAME] = cnn_curve
    if vdt_run_curve is not None:
        curves[VDT_NAME] = vdt_run_curve
        one_shot = learning_curve_from_log(vdt_run, "one_shot_position_error")  # assets/bundled_curve.py's column
        if one_shot:
            curves[f"{VDT_NAME} one-shot x̂₀"] = one_shot

    methods = {VDT_NAME: vdt_predictor(model, steps=steps, seed=seed, sampler=sampler),
               **({CNN_NAME: cnn_predictor(cnn_model)} if cnn_model is not None else {}), **BASELINES, **REFERENCES}
    results, test_clips = {}, {}
    for scenario in scenarios:
        progress(f"quality: evaluating {len(methods)} methods on {num_clips} test clips of {scenario!r}")
        test_clips[scenario] = clips = make_clips(scenario, split_seeds("test", num_clips), config)
        results[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in methods.items()}
    progress("quality: best-of-k, unconditional samples and the context swap")
    ks = (1, 2) if quick else (1, 4, 8)
    physics = dict(
        best_of_k={s: best_of_k(model, c, ks, num_given, steps, seed, sampler) for s, c in test_clips.items()},
        # generation from nothing: the card's choice for it (bench sampler), else the library's default
        unconditional_ball_counts=dict(unconditional_ball_counts(
            model, 2 if quick else 32, uncond_steps, seed, config, uncond_sampler,
            scenarios=tuple(card.get("train_config", {}).get("scenarios", SCENARIOS))),
            sampler=uncond_sampler, steps=uncond_steps),
        context_sensitivity=context_sensitivity(model, test_clips))
    return to_jsonable(dict(
        section="quality", quick=quick, checkpoint=str(checkpoint), training_card=card, num_clips=num_clips,
        num_given=num_given, sampling_steps=steps, sampler=sampler, seed=seed,
        num_train_clips=num_train_clips, cnn=cnn_info,
        results=results, physics=physics, targets=check_targets(results, physics), learning_curves=curves,
        **stamp()))


def render(q: dict, page) -> str:
    """BENCHMARKS.md's quality section: the table, the physics extras, the targets and the learning curves."""
    steps, cnn = q["sampling_steps"], q["cnn"]
    cnn_text = (f"{CNN_NAME}: {cnn['parameters']:,} parameters, trained {cnn['train_seconds']:.0f} s "
                f"({cnn['steps']} steps; budget {cnn['budget_s']:.0f} s from {shown(cnn['budget_source'], page)}) on "
                f"the same {q['num_train_clips']} training clips." if cnn else
                f"**No {CNN_NAME} in this run** (`--no-cnn`): the equal-budget CNN comparison is not measured.")
    lines = ["## Prediction quality (8 given frames -> 8 predicted)", ""] + md_stamp(q)
    lines += [f"Checkpoint `{shown(q['checkpoint'], page)}`; {q['num_clips']} test clips per scenario; VDT sampled "
              f"with {steps} {q['sampler'].upper()} step{'s' if steps > 1 else ''}. " + cnn_text, ""]
    lines += md_table(["scenario", "method", "pos err px", "per step t+1..", "lost", "contact", "PSNR", "SSIM"],
                      [[s, m, f"{r['position_error']:.2f}", " ".join(f"{e:.1f}" for e in r["position_error_per_step"]),
                        f"{r['lost_fraction']:.3f}", f"{r['contact_accuracy']:.2f}", f"{r['psnr']:.1f}",
                        f"{r['ssim']:.3f}"] for s, methods in q["results"].items() for m, r in methods.items()])
    if q.get("physics"):
        lines += [""] + physics_markdown(q["physics"])
    lines += ["", "### Targets", ""]
    lines += [f"- {target_verdict(t).replace('NOT met', '**not met**')}: {name} ({t['detail']})"
              for name, t in q["targets"].items()]
    lines += ["", "### Learning curves (position error on a fixed val subset vs training seconds)", ""]
    lines += md_table(["model", "train s", "step", "pos err px"],
                      [[name, f"{p['seconds']:.0f}", p.get("step", ""), f"{p['position_error']:.2f}"]
                       for name, points in q["learning_curves"].items() for p in points]) + [""]
    if VDT_NAME not in q["learning_curves"]:
        lines += ["(No VDT curve: pass `--vdt-run RUN_OR_JSONL`.)", ""]
    if q.get("plot"):
        lines += [f"![learning curves]({shown(q['plot'], page)})", ""]
    return "\n".join(lines)


def main(args) -> dict:
    """`minivdt bench quality`."""
    set_threads(args)
    quick = args.quick
    q = bench_quality(
        checkpoint=args.checkpoint, budget_s=args.budget_s if args.budget_s or not quick else 2.0,
        num_clips=args.num_clips or (2 if quick else 64), scenarios=tuple(args.scenarios or
                                                                          (("drop", "roll") if quick else SCENARIOS)),
        steps=args.steps or (2 if quick else None), num_train_clips=args.num_train_clips or (10 if quick else None),
        curve_every_s=1.0 if quick else args.curve_every_s, curve_clips=1 if quick else 4, vdt_run=args.vdt_run,
        quick=quick, cnn_run=args.cnn_run, sampler=args.sampler, cnn=not args.no_cnn)
    curves = {name: ([p["seconds"] for p in points], [p["position_error"] for p in points])
              for name, points in q["learning_curves"].items() if points}
    q["plot"] = str(plot_curves(Path(args.out) / "learning_curves.png",
                                {"learning curves on the fixed val subset": curves}, "training time (s)",
                                "position error (px, mean over future steps)").resolve())
    return publish("quality", q, render, args)


def rerender(args):
    """`minivdt bench report`: the quality section again from quality.json."""
    render_files(("quality",), render, args)
