"""Benchmarks — prediction quality (`minivdt bench quality`): the VDT against copy-last-frame, constant velocity
and a SimVP-CNN trained for the same wall-clock budget, on the test split of each scenario, with learning curves
(position error on a fixed validation subset against training seconds: the CNN's traced while it trains, the VDT's
from a run's log) and the project's targets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from ...baselines import BASELINES, REFERENCES, cnn_predictor, load_cnn, save_cnn, train_cnn, vdt_predictor
from ...cards import CARD_FILE, num_given_of, read_card, sampling_of, total_train_seconds
from ...checkpoints import write_atomic
from ...course import default_checkpoint
from ...data import clip_config, split_seeds
from ...metrics import evaluate, to_jsonable
from ...training import TrainConfig, load_model, load_training_videos, make_train_config, pick_device
from ...world import SCENARIOS, make_clips
from .common import (CNN_NAME, TRIVIAL, VDT_NAME, eval_subset, md_stamp, md_table, mean_position_error, plot_curves,
                     publish, render_files, set_threads, shown, stamp)
from .physics import best_of_k, context_sensitivity, physics_markdown, unconditional_ball_counts

# The project's bar for "the VDT learns physics" (BENCHMARKS.md lists each as met or not).
GRAVITY_SCENARIOS = ("drop", "projectile")  # where gravity decides the future
CV_FACTOR = 0.6  # on GRAVITY_SCENARIOS: VDT position error <= CV_FACTOR x constant velocity's
MAX_LOST = 0.03  # fraction of balls the tracker may lose in the VDT's predictions, on every scenario
BALL_COUNT_TOLERANCE = 0.10  # unconditional samples: balls per frame within ±10 % of real clips
CNN_FACTOR = 1.5  # stretch: VDT position error within 1.5x the equal-budget SimVP-CNN's
QUICK_CNN = dict(hidden=8, translator_width=16, translator_depth=1)  # --quick: a SimVP that trains in seconds


def _target(met, detail):
    return {"met": bool(met), "detail": detail}


def target_verdict(target: dict) -> str:
    """"met", "NOT met" or "not measured"."""
    return "not measured" if not target.get("measured", True) else "met" if target["met"] else "NOT met"


def check_targets(results: dict, physics: dict | None = None) -> dict:
    """Each target {"met": bool, "detail": str}, from {scenario: {method: evaluate() dict}} and the physics extras;
    the stretch targets against the CNN are {"measured": False} in a run without it."""
    no_cnn = {"met": False, "measured": False, "detail": f"this run has no equal-budget {CNN_NAME}"}
    targets = {}
    for s, methods in results.items():
        vdt, px = methods[VDT_NAME], {m: r["position_error"] for m, r in methods.items()}
        best = min(TRIVIAL, key=px.get)
        targets[f"{s}: pos err below copy-last and constant velocity"] = _target(
            all(px[VDT_NAME] < px[m] for m in TRIVIAL), f"{px[VDT_NAME]:.2f} vs {best} {px[best]:.2f} px")
        if s in GRAVITY_SCENARIOS:
            bar = CV_FACTOR * px["constant_velocity"]
            targets[f"{s}: pos err <= {CV_FACTOR} x constant velocity"] = _target(
                px[VDT_NAME] <= bar, f"{px[VDT_NAME]:.2f} vs {bar:.2f} px")
        targets[f"{s}: lost balls < {MAX_LOST:.0%}"] = _target(vdt["lost_fraction"] < MAX_LOST,
                                                              f"{vdt['lost_fraction']:.3f}")
        contact = max(methods[m]["contact_accuracy"] for m in TRIVIAL)
        targets[f"{s}: contact accuracy >= the better trivial baseline"] = _target(
            vdt["contact_accuracy"] >= contact, f"{vdt['contact_accuracy']:.3f} vs {contact:.3f}")
        bar = CNN_FACTOR * px[CNN_NAME] if CNN_NAME in px else None
        targets[f"{s}: (stretch) pos err <= {CNN_FACTOR} x {CNN_NAME}"] = dict(no_cnn) if bar is None else _target(
            px[VDT_NAME] <= bar, f"{px[VDT_NAME]:.2f} vs {bar:.2f} px")
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
            targets[name] = dict(no_cnn)
    return targets


def train_cnn_curve(videos, subset, budget_s, eval_every_s, num_given=8, seed=0, partial=None, save_every_s=300,
                    **train_kwargs):
    """baselines.train_cnn for budget_s seconds, tracing the position error on `subset` at step 0, every
    eval_every_s training seconds and at the end -> (model, info with "budget_s" and "curve", the points
    [{"seconds", "step", "position_error"}]).

    With `partial` (a file path) the run saves its state and curve there every `save_every_s` training seconds and
    continues from it when started again, so an hours-long equal-budget run survives interruptions; the file is
    removed once the run is complete."""
    curve, resume = [], None
    meta = to_jsonable(dict(budget_s=budget_s, seed=seed, num_given=num_given, num_clips=len(videos),
                            train_kwargs={k: v for k, v in train_kwargs.items() if k != "device"}))
    if partial is not None and Path(partial).exists():
        try:
            saved = torch.load(partial, map_location="cpu", weights_only=True)  # tensors and plain data only
        except Exception as error:
            raise ValueError(f"partial CNN run {str(partial)!r} is corrupt or unsafe "
                             f"({' '.join(str(error).split())[:200]}); delete it to start again") from None
        if saved.get("meta") != meta:
            raise ValueError(f"partial CNN run {str(partial)!r} was started with other settings "
                             f"({saved.get('meta')} vs {meta}); delete it to start again")
        curve, resume = list(saved["curve"]), saved["state"]

    def trace(step, model, seconds):
        curve.append(dict(seconds=round(seconds, 2), step=step,
                          position_error=mean_position_error(cnn_predictor(model), subset, num_given)))

    def save(state):
        buffer = io.BytesIO()
        torch.save({"state": state, "curve": curve, "meta": meta}, buffer)
        write_atomic(Path(partial), buffer.getvalue())

    model, info = train_cnn(videos, num_given, budget_s=budget_s, seed=seed, callback=trace,
                            callback_every_s=eval_every_s, resume=resume,
                            save_state=save if partial is not None else None, save_every_s=save_every_s,
                            **train_kwargs)
    if partial is not None:
        Path(partial).unlink(missing_ok=True)
    return model, dict(info, budget_s=budget_s, curve=curve)


def load_cnn_run(folder, budget_s):
    """(model, info) of a SimVP kept by `bench quality --cnn-run` or made by assets/train_stochastic_cnn.py (a
    baselines.save_cnn folder); refuses one trained for another budget (bench quality and bench stochastic)."""
    model, info = load_cnn(folder)
    # a fine-tuned CNN (assets/train_stochastic_cnn.py) counts the training of the CNN it started from, as the VDT's
    # budget counts its starting model's (cards.total_train_seconds); 1%: a run stops after its budget's last step
    total = float(info.get("budget_s", -1)) + float(info.get("init_train_seconds") or 0.0)
    if abs(total - budget_s) > 0.01 * budget_s:
        raise ValueError(f"--cnn-run {str(folder)!r} was trained for {total:.1f} s, but the budget is "
                         f"{budget_s} s: not an equal-budget comparison (delete it, or pass bench quality the "
                         "matching --budget-s)")
    return model, dict(info, budget_s=total)


def learning_curve_from_log(path, key: str = "position_error") -> list[dict]:
    """Eval points (lines that carry `key`, e.g. "position_error" or "one_shot_position_error") of a run folder's
    log.jsonl or of a .jsonl file, as {"seconds", "step", "position_error"}."""
    path = Path(path) / "log.jsonl" if Path(path).is_dir() else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no learning-curve log at {path}")
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [dict(seconds=float(row["seconds"]), step=row.get("step"), position_error=float(row[key]))
                for row in rows if key in row]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a JSON-lines learning-curve log ({' '.join(str(error).split())[:200]})") \
            from None


def _equal_budget_cnn(cnn_run, budget_s, num_train_clips, config, subset, num_given, seed, quick, progress):
    """The SimVP trained for the VDT's budget on the same training clips -> (model, info with its "curve"): read
    back from the folder `cnn_run` when it holds one, else trained (and kept there, resumably, given cnn_run)."""
    if cnn_run is not None and Path(cnn_run).exists():
        progress(f"quality: reusing the {CNN_NAME} trained earlier for {budget_s:.1f} s in {cnn_run}")
        return load_cnn_run(cnn_run, budget_s)
    progress(f"quality: building {num_train_clips} training clips, training {CNN_NAME} for {budget_s:.1f} s "
             f"with {torch.get_num_threads()} threads")
    videos = load_training_videos(make_train_config("cpu-tiny", num_train_clips=num_train_clips,
                                                    image_size=config.size, num_frames=config.num_frames))
    model, info = train_cnn_curve(videos.numpy(), subset, budget_s, 1.0 if quick else budget_s / 8, num_given, seed,
                                  partial=None if cnn_run is None else Path(f"{cnn_run}.partial.pt"),
                                  device=pick_device(), **(dict(model_kwargs=QUICK_CNN) if quick else {}))
    if cnn_run is not None:
        save_cnn(model, cnn_run, info)
    return model, info


def bench_quality(checkpoint=None, budget_s=None, num_clips=64, scenarios=SCENARIOS, steps=None, sampler=None,
                  vdt_run=None, cnn_run=None, cnn=True, seed=0, quick=False, progress=print) -> dict:
    """VDT vs copy-last-frame, constant velocity and a SimVP trained for the same wall-clock budget on the same
    training clips, on the test split of each scenario; plus learning curves. budget_s defaults to the checkpoint's
    training.json "train_seconds". vdt_run: a run folder or .jsonl whose log has eval points (the VDT's learning
    curve). cnn_run: the folder the SimVP is kept in and reused from. sampler and steps default to the checkpoint's
    measured choice (cards.sampling_of); cnn=False leaves the SimVP out (its stretch targets are then reported as
    not measured)."""
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    card = read_card(checkpoint)
    card_sampler, card_steps = sampling_of(checkpoint)
    sampler, steps = sampler or card_sampler, steps or card_steps
    uncond_sampler, uncond_steps = sampling_of(checkpoint, "unconditional")
    uncond_steps = 2 if quick else uncond_steps
    budget_source = "argument"
    if budget_s is None and "train_seconds" in card:  # a fine-tune's whole training, its starting model's included
        budget_s, budget_source = total_train_seconds(card), f"{checkpoint / CARD_FILE}"
    if cnn and budget_s is None:
        raise ValueError(f"budget_s must be given (seconds of CNN training, e.g. --budget-s 2700): "
                         f"{checkpoint / CARD_FILE} has no \"train_seconds\"")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be positive, got {budget_s!r}")
    model = load_model(checkpoint, device=pick_device())
    curves = {}
    if vdt_run is not None:  # read before the CNN trains
        curves[VDT_NAME] = learning_curve_from_log(vdt_run)
        one_shot = learning_curve_from_log(vdt_run, "one_shot_position_error")  # assets/bundled_curve.py's column
        if one_shot:
            curves[f"{VDT_NAME} one-shot x̂₀"] = one_shot
    config = clip_config(model)
    num_given = num_given_of(checkpoint, config.num_frames)
    num_train_clips = 10 if quick else card.get("num_train_clips") or TrainConfig().num_train_clips
    cnn_model, cnn_info = None, None
    if cnn:
        subset = eval_subset(1 if quick else 4, config, scenarios)
        cnn_model, cnn_info = _equal_budget_cnn(cnn_run, budget_s, num_train_clips, config, subset, num_given, seed,
                                                quick, progress)
        curves = {CNN_NAME: cnn_info.pop("curve"), **curves}
        cnn_info["budget_source"] = budget_source

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
    start = f" after {cnn['init_train_seconds']:.0f} s from scratch" if cnn and cnn.get("init_train_seconds") else ""
    cnn_text = (f"{CNN_NAME}: {cnn['parameters']:,} parameters, trained {cnn['train_seconds']:.0f} s{start} "
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
    scenarios = tuple(args.scenarios or (("drop", "roll") if quick else SCENARIOS))
    num_clips, steps = args.num_clips or (2 if quick else 64), args.steps or (2 if quick else None)
    q = bench_quality(args.checkpoint, args.budget_s or (2.0 if quick else None), num_clips, scenarios, steps,
                      args.sampler, args.vdt_run, args.cnn_run, cnn=not args.no_cnn, quick=quick)
    curves = {name: ([p["seconds"] for p in points], [p["position_error"] for p in points])
              for name, points in q["learning_curves"].items() if points}
    q["plot"] = str(plot_curves(Path(args.out) / "learning_curves.png",
                                {"learning curves on the fixed val subset": curves}, "training time (s)",
                                "position error (px, mean over future steps)").resolve())
    return publish("quality", q, render, args)


def rerender(args):
    """`minivdt bench report`: the quality section again from quality.json."""
    render_files(("quality",), render, args)
