"""The equal-budget regressor of Lesson 9's benchmark: the SimVP-CNN of `bench quality` (assets/benchmarks/cnn_run,
trained for the bundled VDT's 23385 s on the deterministic scenarios) fine-tuned on the same clips as the VDT's
fine-tuning (assets/train_stochastic.py: 4000 training clips of each of the six scenarios) for the same training
seconds, so both models have had the same CPU time in all.

    python assets/train_stochastic_cnn.py --budget-s SECONDS assets/simvp-stochastic   # resumes from its .partial

One torch thread, as the VDT. Every budget/8 training seconds the CNN is scored on the VDT curve's validation clips
(one forward pass): position error on 4 val clips per deterministic scenario and the energy score of its single
prediction on 8 bounce val clips against 16 simulator futures. The result is a baselines.save_cnn folder (safetensors,
JSON, SHA256SUMS), which `bench stochastic --cnn-run FOLDER` and lesson 9 load with baselines.load_cnn.
"""

import argparse
import io
from pathlib import Path

import numpy as np
import torch

from minivdt.apps.bench.common import eval_subset, mean_position_error
from minivdt.baselines import cnn_predictor, deterministic_sampler, load_cnn, save_cnn, train_cnn
from minivdt.checkpoints import write_atomic
from minivdt.data import split_seeds
from minivdt.futures import sample_futures
from minivdt.metrics import evaluate_uncertain, to_jsonable
from minivdt.training import load_training_videos, make_train_config
from minivdt.world import ALL_SCENARIOS, make_clips

START = Path(__file__).resolve().parent / "benchmarks" / "cnn_run"  # a baselines.save_cnn folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the model folder to write")
    parser.add_argument("--budget-s", type=float, required=True, help="training seconds: the VDT fine-tuning's")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out, partial = Path(args.out), Path(f"{args.out}.partial.pt")
    start, info0 = load_cnn(START)
    cfg = make_train_config("cpu-tiny", scenarios=ALL_SCENARIOS, num_train_clips=4000 * len(ALL_SCENARIOS))
    videos = load_training_videos(cfg).numpy()  # the VDT fine-tuning's clips, (N, F, H, W, 3)
    subset = eval_subset(4)
    bounce = make_clips("bounce", split_seeds("val", 8))
    futures = sample_futures(bounce, 16)
    curve = []

    def callback(step, model, seconds):
        predict = cnn_predictor(model)
        point = dict(step=step, seconds=round(seconds, 1), position_error=mean_position_error(predict, subset),
                     bounce_energy=evaluate_uncertain(deterministic_sampler(predict), bounce, futures, 1)["energy_score"])
        curve.append(point)
        print(point, flush=True)

    if partial.exists():
        saved = torch.load(partial, map_location="cpu", weights_only=True)
        resume, curve[:] = saved["state"], saved["curve"]
    else:  # start from the deterministic CNN's weights with a fresh optimizer, as the VDT starts from its model
        optimizer = torch.optim.AdamW(start.parameters(), lr=info0["learning_rate"])
        resume = dict(model=start.state_dict(), optimizer=optimizer.state_dict(), step=0, train_seconds=0.0)

    def save_state(state):
        buffer = io.BytesIO()
        torch.save({"state": state, "curve": list(curve)}, buffer)
        write_atomic(partial, buffer.getvalue())

    model, info = train_cnn(videos, 8, budget_s=args.budget_s, batch_size=info0["batch_size"],
                            learning_rate=info0["learning_rate"], seed=info0["seed"] + 1, callback=callback,
                            callback_every_s=args.budget_s / 8, resume=resume, save_state=save_state,
                            save_every_s=300)
    info = {**info, "budget_s": args.budget_s, "init": "assets/benchmarks/cnn_run",
            "init_train_seconds": info0["train_seconds"], "init_steps": info0["steps"]}
    save_cnn(model, out, to_jsonable({**info, "curve": curve}))
    partial.unlink(missing_ok=True)
    print(f"wrote {out}: {info['steps']} steps in {info['train_seconds']:.0f} s")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
