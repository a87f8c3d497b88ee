"""Train lesson 4's tiny denoiser of single 16 x 16 frames and save it to assets/lesson4-denoiser/.

A tool, not part of the course: lesson 4 (notebooks/04_diffusion.ipynb) loads the result on a CPU so that its three
samplers show balls, and trains the same model from scratch on a GPU. Seeded, so a rerun gives the same weights on
the same hardware and torch build. Run it on one thread, as it was run:

    OMP_NUM_THREADS=1 python assets/train_lesson4_denoiser.py [--steps 1600] [--out assets/lesson4-denoiser]
"""

import argparse
import platform
import time

import numpy as np
import torch
from einops import rearrange

from minivdt.course import LESSON4_DENOISER, TinyDenoiser, save_denoiser, seed_everything, train_denoiser
from minivdt.data import to_tensor
from minivdt.diffusion import make_scheduler
from minivdt.world import WorldConfig, make_clips

FRAME_SIZE = 16  # lesson 4's FRAME_SIZE
NUM_CLIPS = 1024  # "mixed" clips of 16 frames: 16,384 training frames, as in lesson 4's GPU size
WIDTH = 48  # channels: at 64 a CPU step costs ~2x more and 15 minutes buy too few steps
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
SEED = 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1600, help="optimizer steps (>= 1)")
    parser.add_argument("--out", default=str(LESSON4_DENOISER), help="output folder")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")

    seed_everything(SEED)
    clips = make_clips("mixed", range(NUM_CLIPS), WorldConfig(size=FRAME_SIZE))
    frames = rearrange(to_tensor(clips.frames), "b f c h w -> (b f) c h w")  # (B*F, C, H, W) in [-1, 1]
    denoiser = TinyDenoiser(WIDTH)
    start = time.perf_counter()
    losses = train_denoiser(denoiser, frames, make_scheduler("ddpm"), args.steps, BATCH_SIZE, lr=LEARNING_RATE,
                            seed=SEED)
    seconds = time.perf_counter() - start
    folder = save_denoiser(
        denoiser.eval(), args.out, frame_size=FRAME_SIZE, num_training_frames=len(frames), scenario="mixed",
        prediction_type="epsilon", steps=args.steps, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
        seed=SEED, final_loss=round(float(np.mean(losses[-100:])), 4), train_seconds=round(seconds, 1),
        threads=torch.get_num_threads(), hardware=platform.processor() or platform.machine(),
        command="python assets/train_lesson4_denoiser.py --steps " + str(args.steps))
    print(f"{args.steps} steps in {seconds:.0f} s, final loss {np.mean(losses[-100:]):.4f}; saved to {folder}")


if __name__ == "__main__":
    main()
