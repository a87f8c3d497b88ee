"""Train the `laptop-gpu` preset for a few minutes on a GPU and score it on validation clips.

    python assets/laptop_gpu_check.py --minutes 2 --probe 2 4 8 --run-dir /tmp/laptop-gpu \
        --out assets/benchmarks/laptop_gpu.json

Probes already in --out at other patch sizes, and runs at other patch sizes or lengths, are kept (one GPU loan may
not fit them all).

What it answers: the peak GPU memory and steps per second of a training step at each --probe patch size (a laptop
GPU has 4-8 GiB), hence how long the preset's steps take, and whether a few minutes of training (at the preset's
patch size, or --patch-size) already beat the trivial baselines and the bundled CPU model on the same held-out
validation clips. Each model is sampled with DDIM-1 (the bundled card's measured choice) and with DDPM-25. The
result is a short run's, not a trained laptop-gpu model: no weights are shipped.
"""

import argparse
import dataclasses
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from minivdt.baselines import BASELINES, vdt_predictor
from minivdt.cards import export_model
from minivdt.checkpoints import load_model
from minivdt.course import default_checkpoint
from minivdt.data import clip_config, split_seeds
from minivdt.metrics import evaluate, to_jsonable
from minivdt.training import make_train_config, train
from minivdt.world import SCENARIOS, make_clips

SAMPLERS = (("ddim", 1), ("ddpm", 25))


def score(models: dict, num_val: int, seed: int = 0) -> dict:
    """{scenario: {method: position error, lost fraction}} on `num_val` validation clips per scenario."""
    config = clip_config(next(iter(models.values())))
    methods = {f"{name} {sampler.upper()}-{steps}": vdt_predictor(model, steps=steps, seed=seed, sampler=sampler)
               for name, model in models.items() for sampler, steps in SAMPLERS}
    methods.update({name: fn for name, fn in BASELINES.items() if name != "oracle (true frames)"})
    table = {}
    for scenario in SCENARIOS:
        clips = make_clips(scenario, split_seeds("val", num_val), config)
        table[scenario] = {name: {k: evaluate(fn, clips, 8)[k] for k in ("position_error", "lost_fraction")}
                           for name, fn in methods.items()}
    return table


def probe(patch_size: int, run_dir: Path, steps: int = 30) -> dict:
    """Peak GPU memory and seconds per step of the preset at this patch size (warm steps only)."""
    cfg = make_train_config("laptop-gpu", out_dir=str(run_dir), max_steps=steps, num_train_clips=1024,
                            checkpoint_every=10 ** 6, model_overrides={"patch_size": patch_size})
    torch.cuda.reset_peak_memory_stats()
    short = train(dataclasses.replace(cfg, max_steps=5, out_dir=str(run_dir) + "-warm"), progress=False)
    result = train(cfg, progress=False)
    return dict(patch_size=patch_size, tokens_per_clip=cfg.num_frames * (cfg.image_size // patch_size) ** 2,
                peak_memory_gib=torch.cuda.max_memory_allocated() / 2 ** 30,
                seconds_per_step=result.seconds / result.step, warmup_seconds=short.seconds)


def merge(previous: dict | None, new: dict) -> dict:
    """`new`, keeping the probes of `previous` (the same --out file) at the patch sizes `new` did not measure, and its
    runs at the (patch size, minutes) that `new` did not run: a GPU loan is short, so the table grows one loan at a
    time. A file of the first format (one run at
    top level, no "runs") counts as one run."""
    if not previous:
        return new
    old_runs = previous.get("runs") or [{k: previous[k] for k in ("gpu", "torch", "model", "peak_memory_gib", "steps",
                                                                 "train_seconds", "steps_per_second",
                                                                 "estimated_minutes_for_preset",
                                                                 "num_val_per_scenario", "wall_seconds", "val",
                                                                 "date", "command") if k in previous}]
    new_keys = {run_key(r) for r in new["runs"]}
    probed = {p["patch_size"] for p in new["probes"]}
    return {**new, "probes": sorted([p for p in previous.get("probes", []) if p["patch_size"] not in probed]
                                    + new["probes"], key=lambda p: p["patch_size"]),
            "runs": sorted([r for r in old_runs if run_key(r) not in new_keys] + new["runs"], key=run_key)}


def run_key(run: dict) -> tuple[int, float]:
    """(patch size, training minutes rounded to half a minute): a longer run at the same patch size is a new point
    on the curve, a rerun of the same length replaces the old one."""
    return run["model"]["patch_size"], round(run["train_seconds"] / 30) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, required=True, help="training minutes")
    parser.add_argument("--run-dir", required=True, help="a new run folder")
    parser.add_argument("--out", required=True, help="JSON file for the result")
    parser.add_argument("--num-val", type=int, default=32, help="validation clips per scenario")
    parser.add_argument("--patch-size", type=int, default=None, help="train at this patch size (default: the preset's)")
    parser.add_argument("--probe", type=int, nargs="*", default=[], help="patch sizes to time and measure first")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("error: this check needs a CUDA GPU")
    probes = [probe(p, Path(args.run_dir + f"-probe{p}")) for p in args.probe]
    for row in probes:
        print(row, flush=True)
    torch.manual_seed(0)
    overrides = {} if args.patch_size is None else {"patch_size": args.patch_size}
    cfg = make_train_config("laptop-gpu", out_dir=args.run_dir, time_budget_s=args.minutes * 60,
                            model_overrides=overrides)
    torch.cuda.reset_peak_memory_stats()
    start = time.time()
    result = train(cfg, progress=False)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30
    exported = export_model(args.run_dir, Path(args.run_dir) / "export")
    models = {"laptop-gpu": load_model(exported, device="cuda"),
              "bundled cpu-tiny": load_model(default_checkpoint(), device="cuda")}
    with torch.no_grad():
        table = score(models, args.num_val)
    run = dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__, model=models["laptop-gpu"].config,
               peak_memory_gib=peak, steps=result.step, train_seconds=result.seconds,
               steps_per_second=result.step / result.seconds,
               estimated_minutes_for_preset=cfg.max_steps / (result.step / result.seconds) / 60,
               num_val_per_scenario=args.num_val, wall_seconds=time.time() - start, val=table,
               date=time.strftime("%Y-%m-%dT%H:%M:%S"), command="python " + shlex.join(sys.argv))
    out = dict(section="laptop_gpu", preset=cfg.model_preset, batch_size=cfg.batch_size,
               mixed_precision=cfg.mixed_precision, preset_max_steps=cfg.max_steps, machine=platform.machine(),
               probes=probes, runs=[run])
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else None
    out = merge(previous, to_jsonable(out))
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    for scenario, rows in table.items():
        print(scenario, {name: round(r["position_error"], 2) for name, r in rows.items()})
    print(f"{result.step} steps in {result.seconds:.0f} s ({run['steps_per_second']:.1f}/s); "
          f"the preset's {cfg.max_steps} steps would take {run['estimated_minutes_for_preset']:.0f} min here")


if __name__ == "__main__":
    main()
