"""The bundled run's learning curve: score every EMA snapshot of assets/train_bundled.py on the fixed val subset
of `minivdt bench quality` (4 clips per scenario), appending to a .jsonl that `bench quality --vdt-run` reads.

    python assets/bundled_curve.py RUN_DIR assets/benchmarks/vdt_curve.jsonl

Snapshots already in the file are skipped. Each line: step, training seconds, position error of sampled futures
(25 ancestral DDPM steps, fixed so that the curve keeps one meaning) and of the one-shot x̂_0 at t = T-1.
"""

import json
import sys
from pathlib import Path

import torch

from minivdt.apps.bench.common import eval_subset, mean_position_error
from minivdt.apps.bench.study import one_shot_error
from minivdt.baselines import vdt_predictor
from minivdt.diffusion import NUM_TRAIN_TIMESTEPS
from minivdt.training import load_model


def main(run_dir, out):
    torch.set_num_threads(1)
    out = Path(out)
    done = {json.loads(line)["step"] for line in out.read_text().splitlines()} if out.is_file() else set()
    subset = eval_subset(4)
    for folder in sorted((Path(run_dir) / "snapshots").glob("step*")):
        step = int(folder.name[4:])
        if step in done:
            continue
        model = load_model(folder)
        row = dict(step=step, seconds=float((folder / "seconds.txt").read_text()),
                   position_error=mean_position_error(vdt_predictor(model, 25, 0, "ddpm"), subset),
                   one_shot_position_error=float(sum(one_shot_error(model, c, NUM_TRAIN_TIMESTEPS - 1)
                                                     for c in subset.values()) / len(subset)))
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(row, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
