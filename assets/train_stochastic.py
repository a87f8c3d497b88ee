"""Reproduce the bundled all-task VDT of Lesson 9: assets/vdt-cpu-tiny fine-tuned on the five deterministic scenarios
and the stochastic "bounce" scenario (a rough floor), on a 2-core CPU, one torch thread.

    python assets/train_stochastic.py RUN_DIR --budget-s 2400 --learning-rate 3e-4   # resumes when RUN_DIR has a run
    python assets/train_stochastic.py RUN_DIR --budget-s 4800 --learning-rate 1e-4   # the bundled run's second phase
    minivdt export RUN_DIR assets/vdt-cpu-tiny

Fine-tuning keeps the 4000 training clips per deterministic scenario that the model was trained on (train seeds
0..3999) and adds 4000 bounce clips. Every --curve-every steps the EMA model is scored on fixed validation clips and a
line is appended to RUN_DIR/curve.jsonl: DDIM-1 position error on the deterministic scenarios, and the energy score on
bounce clips (16 simulator futures each) of 8 samples from DDPM-25 and from DDIM-1. The EMA weights of those steps are
kept under RUN_DIR/snapshots/ for later scoring.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from minivdt.apps.bench.common import eval_subset, mean_position_error
from minivdt.baselines import vdt_predictor, vdt_sampler
from minivdt.checkpoints import read_state, save_model
from minivdt.data import split_seeds
from minivdt.futures import sample_futures
from minivdt.metrics import evaluate_uncertain
from minivdt.training import make_train_config, train
from minivdt.world import ALL_SCENARIOS, make_clips

BUNDLED = Path(__file__).resolve().parent / "vdt-cpu-tiny"
CURVE_SAMPLERS = (("ddpm", 25), ("ddim", 1))


def curve_callback(run_dir: Path, num_bounce: int = 8, num_futures: int = 16, num_samples: int = 8):
    subset = eval_subset(4)
    bounce = make_clips("bounce", split_seeds("val", num_bounce))
    futures = sample_futures(bounce, num_futures)
    snapshots = run_dir / "snapshots"

    def callback(step, ema_model, seconds):
        start = time.perf_counter()
        save_model(ema_model, snapshots / f"step{step:06d}")  # with SHA256SUMS, as every loaded folder needs
        row = dict(step=step, seconds=round(seconds, 1),
                   position_error=mean_position_error(vdt_predictor(ema_model, 1, 0, "ddim"), subset))
        for sampler, steps in CURVE_SAMPLERS:
            result = evaluate_uncertain(vdt_sampler(ema_model, steps, 0, sampler), bounce, futures, num_samples)
            row[f"bounce_energy_{sampler}{steps}"] = round(result["energy_score"], 4)
            row[f"bounce_lost_{sampler}{steps}"] = round(result["lost_fraction"], 4)
        row["eval_seconds"] = round(time.perf_counter() - start, 1)
        with open(run_dir / "curve.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(row, flush=True)

    return callback


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--budget-s", type=float, required=True,
                        help="training seconds of the whole run, earlier sessions included (evaluation not counted)")
    parser.add_argument("--steps", type=int, default=100_000, help="a cap on the run's optimisation steps")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="peak learning rate (may change on resume)")
    parser.add_argument("--curve-every", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    resume = (run_dir / "checkpoint").exists()
    done = read_state(run_dir / "checkpoint").get("train_seconds", 0.0) if resume else 0.0
    if done >= args.budget_s:
        print(f"{run_dir} has trained {done:.0f} s of its {args.budget_s:g} s budget already")
        return
    cfg = make_train_config("cpu-tiny", out_dir=str(run_dir), max_steps=args.steps, checkpoint_every=250,
                            learning_rate=args.learning_rate, scenarios=ALL_SCENARIOS,
                            num_train_clips=4000 * len(ALL_SCENARIOS), init_from=str(BUNDLED),
                            time_budget_s=args.budget_s - done)
    train(cfg, resume=resume, progress=False, callback=curve_callback(run_dir),
          callback_every=args.curve_every)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
