"""README's "Your own experiment": three recipes a user might try, run exactly as README gives them, timed.

    python assets/experiments.py runs/experiments          # ~25 min on a 2-core CPU; writes the JSON below
    minivdt bench card                                     # README's experiments table from that JSON

Each recipe fine-tunes the bundled model (assets/vdt-cpu-tiny) for --minutes of training with the cpu-tiny preset,
then scores the run with `minivdt eval` and, for comparison, the bundled model itself on the same clips:
- weaker gravity: `--world gravity=0.015,restitution=0.6 --scenarios drop,collide`;
- your own videos: `--data FOLDER` of mp4 files this script writes first (a damped pendulum, 64 x 64, 48 frames
  each: a motion the bundled model never saw, read through the same video path a user's files take);
- an uncertain world: `--world rough_floor=true --scenarios drop,roll` (every floor bounce turned by a random
  angle; scored by the energy score against the simulator's futures, lesson 9).
Wall-clock seconds of each command are recorded with the machine's load, since the 2 cores may be shared.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from minivdt.checkpoints import read_state

ASSETS = Path(__file__).resolve().parent
BUNDLED = ASSETS / "vdt-cpu-tiny"
OUT_JSON = ASSETS / "benchmarks" / "experiments.json"
RECIPES = {
    "weaker gravity": ["--world", "gravity=0.015,restitution=0.6", "--scenarios", "drop,collide"],
    "your own videos": ["--data", "{videos}"],
    "uncertain world": ["--world", "rough_floor=true", "--scenarios", "drop,roll"],
}


def write_pendulum_videos(folder: Path, num_files: int = 20, num_frames: int = 48, size: int = 64, seed: int = 0):
    """num_files mp4s of a damped pendulum (pivot at the top centre, random length, amplitude and phase)."""
    import imageio_ffmpeg
    import mediapy

    mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(num_files):
        length, amplitude, phase = rng.uniform(0.45, 0.8) * size, rng.uniform(0.4, 1.0), rng.uniform(0, 2 * np.pi)
        omega = 2 * np.pi / (16 * np.sqrt(length / (0.6 * size)))  # a period of ~16 frames at the mean length
        frames = np.empty((num_frames, size, size, 3), np.uint8)
        for t in range(num_frames):
            angle = amplitude * np.exp(-0.02 * t) * np.cos(omega * t + phase)
            bx, by = size / 2 + length * np.sin(angle), 4 + length * np.cos(angle)
            frame = np.full((size, size, 3), (235, 232, 220), np.uint8)
            s = np.linspace(0, 1, 64)[:, None]  # the string, as points along it
            points = np.rint(np.array([size / 2, 4.0]) * (1 - s) + np.array([bx, by]) * s).astype(int)
            points = points[(points >= 0).all(1) & (points < size).all(1)]
            frame[points[:, 1], points[:, 0]] = (90, 90, 90)
            frame[(xx - bx) ** 2 + (yy - by) ** 2 <= 5.0 ** 2] = (30, 60, 170)
            frames[t] = frame
        mediapy.write_video(folder / f"pendulum_{i:02d}.mp4", frames, fps=8)


def started_from() -> dict:
    """Which bundled model the recipes fine-tuned: its card's steps, training seconds and export date."""
    card = json.loads((BUNDLED / "training.json").read_text())
    return {k: card.get(k) for k in ("steps", "train_seconds", "exported")}


def run(command: list[str], log) -> float:
    """Run one CLI command (as a user types it), logging its output; its wall-clock seconds."""
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a folder for the runs (replaced)")
    parser.add_argument("--minutes", type=float, default=4.0, help="training minutes of each recipe")
    parser.add_argument("--num-clips", type=int, default=32, help="test clips per scenario of each evaluation")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cli = [shutil.which("minivdt") or "minivdt"]
    videos = out / "my_videos"
    write_pendulum_videos(videos)
    rows, load_before = [], os.getloadavg()[0]
    with open(out / "commands.log", "w") as log:
        for name, options in RECIPES.items():
            options = [o.format(videos=videos) for o in options]
            run_dir = out / name.replace(" ", "-")
            train = cli + ["train", "--preset", "cpu-tiny", *options, "--init-from", str(BUNDLED),
                           "--minutes", f"{args.minutes:g}", "--out", str(run_dir)]
            train_s = run(train, log)
            evaluate = cli + ["eval", str(run_dir), "--num-clips", str(args.num_clips), "--out", str(run_dir / "eval")]
            eval_s = run(evaluate, log)
            # the bundled model on the same clips: what the fine-tune bought
            bundled = cli + ["eval", str(BUNDLED), *options, "--num-clips", str(args.num_clips),
                             "--out", str(run_dir / "eval-bundled")]
            run(bundled, log)
            steps = read_state(run_dir / "checkpoint")["step"]
            shown = " ".join(["minivdt"] + train[1:]).replace(str(ASSETS.parent) + "/", "").replace(str(out) + "/", "")
            rows.append(dict(recipe=name, train_command=shown, train_seconds=round(train_s, 1),
                             eval_seconds=round(eval_s, 1), steps=steps,
                             fine_tuned=json.loads((run_dir / "eval" / "eval.json").read_text()),
                             bundled=json.loads((run_dir / "eval-bundled" / "eval.json").read_text())))
            print(f"{name}: {train_s:.0f} s training command, {eval_s:.0f} s eval, {steps} steps", flush=True)
    OUT_JSON.write_text(json.dumps(dict(
        recipes=rows, started_from=started_from(), minutes=args.minutes, num_clips=args.num_clips, threads=os.environ.get("OMP_NUM_THREADS"),
        cpu_count=os.cpu_count(), load_average_at_start=round(load_before, 2),
        load_average_at_end=round(os.getloadavg()[0], 2), date=time.strftime("%Y-%m-%d"),
        python=sys.version.split()[0]), indent=1))
    print(f"wrote {OUT_JSON}")


if __name__ == "__main__":
    main()
