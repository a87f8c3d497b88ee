"""Reproduce assets/vdt-cpu-tiny: the bundled all-task VDT, trained on a 2-core CPU.

The shipped model's schedule (assets/vdt-cpu-tiny/training.json lists its learning rates and task mixes by step):

    python assets/train_bundled.py RUN_DIR --steps 14000                          # phase 1: the preset's 1e-3
    python assets/train_bundled.py RUN_DIR --steps 15750 --learning-rate 3e-4     # phase 2
    python assets/train_bundled.py RUN_DIR --steps 22000 --learning-rate 1e-4     # phase 3
    minivdt export RUN_DIR assets/vdt-cpu-tiny

A phase may change the task mix (--task-weights TASK=WEIGHT ...; the weights need not sum to 1) to give a task the
model does badly more of the steps. One such phase was tried and not shipped: from step 22000 to 27000 at 1e-4 with
`--task-weights predict=0.4 backward=0.1 interpolate=0.1 image_to_video=0.05 spatial_completion=0.05 random=0.05
unconditional=0.25` (5x the unconditional share). On validation clips its forward prediction improved, its lost
balls did not, and its unconditional samples found fewer balls, not more.

One torch thread: two training processes, or two OpenMP threads next to other work, slow each other far more than
2x on 2 cores. Batches, masks and noise depend only on (seed, step) and the task mix in force, so an interrupted
run continues exactly where it stopped. Every --snapshot-every steps the EMA weights are saved under
RUN_DIR/snapshots/ for the learning curve of `minivdt bench quality --vdt-run` (assets/bundled_curve.py).
"""

import argparse
from pathlib import Path

import torch

from minivdt.checkpoints import save_model
from minivdt.training import make_train_config, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, required=True, help="total optimisation steps of the run")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the preset's (on resume too)")
    parser.add_argument("--task-weights", nargs="+", metavar="TASK=WEIGHT", default=None,
                        help="the task mix from this phase on (default: the preset's)")
    parser.add_argument("--snapshot-every", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
    if args.task_weights:
        pairs = [item.partition("=") for item in args.task_weights]
        if any(not sep for _, sep, _ in pairs):
            parser.error("--task-weights: give TASK=WEIGHT pairs, e.g. predict=0.5 unconditional=0.25")
        try:
            overrides["task_weights"] = {task: float(weight) for task, _, weight in pairs}
        except ValueError:
            parser.error("--task-weights: each WEIGHT must be a number, e.g. predict=0.5")
    try:
        cfg = make_train_config("cpu-tiny", out_dir=args.run_dir, max_steps=args.steps, checkpoint_every=250,
                                **overrides)
    except ValueError as error:
        parser.error(str(error))
    snapshots = Path(args.run_dir) / "snapshots"

    def snapshot(step, ema_model, seconds):
        folder = snapshots / f"step{step:06d}"
        save_model(ema_model, folder)  # with SHA256SUMS, which every loaded folder needs
        (folder / "seconds.txt").write_text(f"{seconds:.1f}\n")  # training seconds so far, all sessions

    train(cfg, resume=(Path(args.run_dir) / "checkpoint").exists(), progress=False, callback=snapshot,
          callback_every=args.snapshot_every)


if __name__ == "__main__":
    main()
