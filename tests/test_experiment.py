"""Experiments of one's own (issue 23): `train --world/--scenarios/--data/--init-from`, `eval`, `plot`, as a new
user runs them: subprocesses of the real CLI on a smoke run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minivdt.checkpoints import read_state
from minivdt.viz import mediapy_with_ffmpeg

WORLD = "gravity=0.015,restitution=0.6"


def run_cli(*argv, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MINIVDT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "minivdt.apps.cli", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def one_line_error(done, message):
    assert done.returncode != 0, done.stdout[-500:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr[-3000:]


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "w"
    done = run_cli("train", "--preset", "smoke", "--world", WORLD, "--scenarios", "drop,collide", "--out", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "estimate: " in done.stdout + done.stderr  # the duration estimate from the first timed steps
    return run


def test_the_world_is_stored_in_the_run_and_a_changed_world_is_refused_on_resume(world_run):
    cfg = read_state(world_run / "checkpoint")["train_config"]
    assert cfg["world"] == {"gravity": 0.015, "restitution": 0.6} and list(cfg["scenarios"]) == ["drop", "collide"]
    log = [json.loads(line) for line in (world_run / "log.jsonl").read_text().splitlines()]
    assert any("val_loss" in row for row in log)  # validation loss at the checkpoints, for `minivdt plot`
    done = run_cli("train", "--preset", "smoke", "--world", "gravity=0.02", "--scenarios", "drop,collide",
                   "--out", str(world_run), "--resume", "--steps", "6")
    one_line_error(done, "the training config differs in ['world']")


def test_eval_scores_the_trained_world_and_says_when_it_is_another(world_run, tmp_path):
    done = run_cli("eval", str(world_run), "--num-clips", "2", "--out", str(tmp_path / "own"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "on the world it was trained on (gravity=0.015, restitution=0.6)" in done.stdout
    result = json.loads((tmp_path / "own" / "eval.json").read_text())
    assert result["scenarios"] == ["drop", "collide"] and result["world"] == {"gravity": 0.015, "restitution": 0.6}
    assert set(result["predict"]["drop"]) == {"VDT", "copy_last_frame", "constant_velocity"}
    assert (tmp_path / "own" / "eval.mp4").stat().st_size > 0
    done = run_cli("eval", str(world_run), "--num-clips", "2", "--world", "gravity=0.03", "--out",
                   str(tmp_path / "other"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ANOTHER world than it was trained on: gravity=0.03" in done.stdout


def test_plot_writes_the_learning_curves(world_run, tmp_path):
    done = run_cli("plot", str(world_run), "--out", str(tmp_path / "c.png"))
    assert done.returncode == 0 and "wrote" in done.stdout, done.stderr[-3000:]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def write_videos(folder, count=3, frames=20):
    media = mediapy_with_ffmpeg()
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(count):
        video = np.zeros((frames, 40, 48, 3), np.uint8)
        for f in range(frames):  # a white square moving right: something to predict
            video[f, 10:20, 2 * f:2 * f + 10] = 255
        video[..., 1] = rng.integers(0, 30, video.shape[:3], dtype=np.uint8)
        media.write_video(folder / f"clip{i}.mp4", video, fps=10)
    (folder / "notes.txt").write_text("not a video")


def test_train_and_eval_on_a_folder_of_videos(tmp_path):
    videos = tmp_path / "videos"
    write_videos(videos)
    before = sorted(p.name for p in videos.iterdir())
    run = tmp_path / "own"
    done = run_cli("train", "--preset", "smoke", "--data", str(videos), "--out", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 files read" in done.stdout and "notes.txt (not a video" in done.stdout
    done = run_cli("eval", str(run), "--out", str(tmp_path / "ev"))
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads((tmp_path / "ev" / "eval.json").read_text())["clips"]
    assert set(scores) == {"VDT", "copy_last_frame"} and all(0 < s["psnr"] < 100 for s in scores.values())
    assert sorted(p.name for p in videos.iterdir()) == before  # nothing written into the user's folder


@pytest.mark.parametrize("source", ["world", "data"])
def test_world_and_data_under_accelerate_launch_with_two_processes(tmp_path, source):
    """Scale out (issue 23): two CPU processes train on a changed world or on a video folder; the run keeps the world
    (or the data path) and each process reads the same clips, taking its share of every batch (make_batch)."""
    options = ["--world", WORLD, "--scenarios", "drop"] if source == "world" else ["--data", str(tmp_path / "v")]
    if source == "data":
        write_videos(tmp_path / "v")
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MINIVDT_DEBUG", None)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines",
               "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "minivdt.apps.cli", "train",
               "--preset", "smoke", *options, "--out", str(run)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    state = read_state(run / "checkpoint")
    assert state["step"] == 4
    if source == "world":
        assert state["train_config"]["world"] == {"gravity": 0.015, "restitution": 0.6}
        assert list(state["train_config"]["scenarios"]) == ["drop"]
    else:
        assert state["train_config"]["data"] == str(tmp_path / "v")
        assert done.stdout.count("3 files read") == 1  # the clip summary is printed once, by the main process


@pytest.mark.parametrize("argv, message", [
    (["train", "--preset", "smoke", "--data", "nowhere/", "--out", "{tmp}/r"], "nowhere"),
    (["train", "--preset", "smoke", "--init-from", "{tmp}", "--out", "{tmp}/r"], "has no config.json"),
    (["eval", "{tmp}/none"], "is not an existing local folder"),
    (["plot", "{tmp}"], "has no training log lines"),
    (["plot", "{tmp}/none"], "is not an existing folder"),
])
def test_experiment_commands_reject_bad_files_in_one_line(argv, message, tmp_path):
    one_line_error(run_cli(*[a.format(tmp=tmp_path) for a in argv]), message)
