"""Application — `minivdt eval CHECKPOINT`: how good is a trained model, against the baselines, on the world it was
trained on (or another one, or the user's own clips)?

On simulated worlds: position error, lost balls and contact accuracy of the model's forward prediction against
copy-last-frame and constant velocity (metrics.evaluate), and on stochastic scenarios the energy score, best-of-k,
Brier score and spread-skill of its samples against the simulator's futures (metrics.evaluate_uncertain). On user
clips (`--data`, or a model trained with `--data`): MSE, PSNR and SSIM of the predicted frames against copy-last.
Prints the table, writes eval.json and a truth | prediction video.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from ..baselines import BASELINES, deterministic_sampler, vdt_predictor, vdt_sampler
from ..cards import num_given_of, sampling_of, training_config_of
from ..checks import check_int, check_output, check_seed
from ..course import default_checkpoint
from ..data import split_seeds
from ..futures import sample_futures
from ..metrics import evaluate, evaluate_uncertain, format_table, format_uncertain, mse, psnr, ssim, to_jsonable
from ..training import load_model, pick_device
from ..viz import save_video
from ..world import SCENARIOS, make_clips, make_world
from .demo import labelled_video

NUM_FUTURES = 16  # simulator futures per stochastic clip
TRIVIAL = ("copy_last_frame", "constant_velocity")


def describe_world(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "the default world"


def run_eval(checkpoint=None, world: dict | None = None, scenarios=None, data=None, num_clips: int = 32,
             out_dir="outputs/eval", num_samples: int = 8, seed: int = 0) -> dict:
    """Score a model folder or run folder; see the module docstring. world / scenarios / data default to the ones it
    was trained on; num_samples: samples per clip on stochastic scenarios."""
    checkpoint = checkpoint or default_checkpoint()
    check_int("num_clips", num_clips, 1), check_int("num_samples", num_samples, 1), check_seed("seed", seed)
    out_dir = check_output("out_dir", out_dir, "dir")
    trained = training_config_of(checkpoint)
    model = load_model(checkpoint, device=pick_device())
    num_given = num_given_of(checkpoint, model.cfg.num_frames)
    data = data if data is not None else trained.get("data")
    torch.manual_seed(seed)
    if data is not None:
        results, rows, title = _eval_user_clips(model, data, num_given, num_clips, checkpoint, seed)
    else:
        results, rows, title = _eval_world(model, trained, world, scenarios, num_given, num_clips, num_samples,
                                           checkpoint, seed)
    print(title)
    print(results.pop("_table"))
    video = save_video(out_dir / "eval.mp4", labelled_video(rows, num_given), fps=4)  # rows: (name, truth, VDT)
    with open(out_dir / "eval.json", "w") as f:
        json.dump(to_jsonable({"title": title, "checkpoint": str(checkpoint), **results}), f, indent=1)
    print(f"wrote {out_dir / 'eval.json'} and {video} (each row: truth | VDT, each frame labelled given or predicted)")
    return results


def _eval_world(model, trained, world, scenarios, num_given, num_clips, num_samples, checkpoint, seed):
    trained_world = dict(trained.get("world") or {})
    overrides = trained_world if world is None else dict(world)
    config = make_world(overrides, size=model.cfg.height, num_frames=model.cfg.num_frames)
    scenarios = tuple(scenarios or trained.get("scenarios") or SCENARIOS)
    sampler, steps = sampling_of(checkpoint)
    stochastic_sampler, stochastic_steps = sampling_of(checkpoint, "stochastic")
    where = f"the world it was trained on ({describe_world(overrides)})" if overrides == trained_world else \
        f"ANOTHER world than it was trained on: {describe_world(overrides)} (trained: {describe_world(trained_world)})"
    title = (f"{num_clips} test clips per scenario, {num_given} given -> {model.config.num_frames - num_given} "
             f"predicted, on {where}; VDT sampled with {sampler}-{steps}")
    methods = {"VDT": vdt_predictor(model, steps, seed, sampler), **{name: BASELINES[name] for name in TRIVIAL}}
    results, uncertain, rows = {}, {}, []
    for scenario in scenarios:
        clips = make_clips(scenario, split_seeds("test", num_clips), config)
        results[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in methods.items()}
        shown = clips.select(slice(0, 2))
        future = methods["VDT"](shown.frames[:, :num_given], shown, config.num_frames - num_given)
        rows.append((scenario, shown.frames, np.concatenate([shown.frames[:, :num_given], future], 1)))
        if clips.rough_floor.any():
            futures = sample_futures(clips, NUM_FUTURES, num_given, scenario=scenario)
            samplers = {f"VDT {stochastic_sampler}-{stochastic_steps}": vdt_sampler(model, stochastic_steps, seed,
                                                                                 stochastic_sampler),
                        **{name: deterministic_sampler(BASELINES[name]) for name in TRIVIAL}}
            uncertain[scenario] = {name: evaluate_uncertain(fn, clips, futures, num_samples, num_given)
                                   for name, fn in samplers.items()}
    table = format_table(results)
    if uncertain:
        table += (f"\n\nuncertain future: samples against {NUM_FUTURES} simulator futures per clip (lower is better; "
                  "spread/skill near 1 = calibrated)\n" + format_uncertain(uncertain))
    return {"world": overrides, "scenarios": list(scenarios), "predict": results, "uncertain": uncertain,
            "_table": table}, rows, title


def _eval_user_clips(model, data, num_given, num_clips, checkpoint, seed):
    from ..user_clips import load_clips

    sampler, steps = sampling_of(checkpoint)
    clips = load_clips(data, num_frames=model.cfg.num_frames, size=model.cfg.height)
    frames = clips.val[:num_clips]  # (N, F, H, W, 3): windows of files the model was not trained on
    context = frames[:, :num_given]
    num_future = frames.shape[1] - num_given
    truth = frames[:, num_given:]
    predicted = {"VDT": vdt_predictor(model, steps, seed, sampler)(context, None, num_future),
                 "copy_last_frame": BASELINES["copy_last_frame"](context, None, num_future)}
    results = {name: {"mse": float(mse(p, truth).mean()), "psnr": float(psnr(p, truth).mean()),
                      "ssim": float(ssim(p, truth).mean())} for name, p in predicted.items()}
    header = f"{'method':<22}{'MSE':>9}{'PSNR dB':>9}{'SSIM':>7}"
    table = "\n".join([header, "-" * len(header)] + [f"{n:<22}{r['mse']:>9.1f}{r['psnr']:>9.2f}{r['ssim']:>7.3f}"
                                                     for n, r in results.items()])
    title = (f"{len(frames)} validation windows of your clips ({clips.summary()}), {num_given} given -> "
             f"{num_future} predicted (predicted frames only); VDT sampled with {sampler}-{steps}")
    rows = [("your clips", frames[:4], np.concatenate([frames[:4, :num_given], predicted["VDT"][:4]], 1))]
    return {"data": str(data), "clips": results, "_table": table}, rows, title
