"""Where the bundled run's unmet targets stall: score every EMA snapshot of assets/train_bundled.py on the target
metrics of `minivdt bench quality`, on validation clips (the test clips stay for the final table).

    python assets/target_curve.py RUN_DIR assets/benchmarks/target_curve.jsonl --num-val 64

Per snapshot: lost balls, contact accuracy and position error of forward prediction in every scenario (the
sampler and step count of the bundled model's card), and the balls per frame of unconditional samples against
real clips (the library's default sampler DDPM-25 for every snapshot, so the snapshots compare alike; `bench
quality` uses the card's choice for unconditional generation, see `bench sampler`). Snapshots already in the file
are skipped, so an interrupted run continues; BENCHMARKS.md shows the file as the "where the targets stall" table.
"""

import argparse
import json
from pathlib import Path

import torch

from minivdt.apps.bench.physics import unconditional_ball_counts
from minivdt.baselines import vdt_predictor
from minivdt.cards import sampling_of
from minivdt.course import default_checkpoint
from minivdt.data import clip_config, split_seeds
from minivdt.metrics import evaluate
from minivdt.training import load_model
from minivdt.world import SCENARIOS, make_clips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run folder of assets/train_bundled.py (with snapshots/)")
    parser.add_argument("out", help=".jsonl file; snapshots already in it are skipped")
    parser.add_argument("--num-val", type=int, default=64, help="validation clips per scenario")
    parser.add_argument("--unconditional-clips", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    snapshots = sorted((Path(args.run_dir) / "snapshots").glob("step*"))
    if not snapshots:
        parser.error(f"run_dir: {args.run_dir} has no snapshots/step* folders")
    out = Path(args.out)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.is_file() else []
    sampler, steps = sampling_of(default_checkpoint())
    made_with = {(r["sampler"], r["steps"], r["num_val"]) for r in rows} - {(sampler, steps, args.num_val)}
    if made_with:
        parser.error(f"out: {args.out} was made with (sampler, steps, num_val) {sorted(made_with)}, not "
                     f"{(sampler, steps, args.num_val)}; delete it to score every snapshot again")
    done = {r["step"] for r in rows}
    for folder in snapshots:
        step = int(folder.name[4:])
        if step in done:
            continue
        model = load_model(folder)
        config = clip_config(model)
        scenarios = {}
        for scenario in SCENARIOS:
            clips = make_clips(scenario, split_seeds("val", args.num_val), config)
            r = evaluate(vdt_predictor(model, steps, 0, sampler), clips, 8)
            scenarios[scenario] = {k: r[k] for k in ("position_error", "lost_fraction", "contact_accuracy")}
        row = dict(step=step, seconds=float((folder / "seconds.txt").read_text()), sampler=sampler, steps=steps,
                   num_val=args.num_val, scenarios=scenarios,
                   unconditional=unconditional_ball_counts(model, args.unconditional_clips))
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(step, {s: round(v["lost_fraction"], 3) for s, v in scenarios.items()},
              round(row["unconditional"]["model"], 2), flush=True)


if __name__ == "__main__":
    main()
