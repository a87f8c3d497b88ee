"""Benchmarks — the conditioning race (`minivdt bench conditioning`): adaLN vs cross-attention vs token
concatenation trained side by side; writes the loss curves lesson 6 plots."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ...baselines import vdt_predictor
from ...metrics import to_jsonable
from ...model import COND_MODES, count_flops
from ...training import load_model, make_train_config, train
from .common import QUICK_MODEL, eval_subset, mean_position_error, set_threads, stamp, write_json


def bench_conditioning(steps=300, modes=COND_MODES, seed=0, eval_clips=4, sampling_steps=25, run_root=None,
                       quick=False, progress=print) -> dict:
    """Train the cpu-tiny VDT once per conditioning mode on forward prediction (8 given -> 8 predicted) with the
    same seed, data and number of steps; record the loss curves, wall-clock seconds and the validation position
    error of the final (raw, not EMA) weights. This is the paper's Sec. 4 comparison at laptop scale."""
    overrides = dict(QUICK_MODEL) if quick else {}
    subset = eval_subset(eval_clips)
    run_root = Path(run_root or tempfile.mkdtemp(prefix="minivdt-conditioning-"))
    curves = {}
    for mode in modes:
        progress(f"conditioning: training cond_mode={mode!r} for {steps} steps")
        cfg = make_train_config("cpu-tiny", model_overrides={**overrides, "cond_mode": mode},
                                task_weights={"predict": 1.0}, max_steps=steps, checkpoint_every=steps,
                                num_train_clips=40 if quick else 4000, seed=seed, out_dir=str(run_root / mode))
        result = train(cfg, progress=False)
        model = load_model(run_root / mode / "checkpoint" / "model")
        curves[mode] = dict(steps=list(range(1, len(result.losses) + 1)), loss=[round(x, 5) for x in result.losses],
                            train_seconds=round(result.seconds, 1), parameters=sum(p.numel() for p in model.parameters()),
                            gflops=round(count_flops(model.cfg) / 1e9, 3),
                            position_error=mean_position_error(vdt_predictor(model, steps=sampling_steps), subset))
    return to_jsonable(dict(section="conditioning", quick=quick, steps=steps, seed=seed, eval_clips=eval_clips,
                          sampling_steps=sampling_steps, curves=curves, **stamp()))


def format_conditioning(c: dict) -> str:
    rows = []
    for mode, curve in c["curves"].items():
        tail = curve["loss"][-max(1, len(curve["loss"]) // 10):]
        rows.append(f"{mode:<11} loss (last 10%) {np.mean(tail):.4f}   val position error {curve['position_error']:.2f} px"
                    f"   {curve['train_seconds']:.0f} s   {curve['gflops']:.2f} GFLOPs/clip")
    return "\n".join([f"conditioning race: {c['steps']} steps each, seed {c['seed']}", *rows])


def main(args) -> dict:
    """`minivdt bench conditioning`: writes the curves JSON that lesson 6 plots."""
    set_threads(args)
    c = bench_conditioning(steps=args.steps or (2 if args.quick else 300), quick=args.quick,
                           sampling_steps=2 if args.quick else 25, eval_clips=1 if args.quick else 4)
    print(format_conditioning(c))
    print(f"wrote {write_json(c, args.curves_out)}")
    return c
