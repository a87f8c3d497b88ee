"""minivdt.course: the lesson size follows MINIVDT_QUICK and the hardware; the duration estimate runs real steps."""

import functools

import pytest
import torch

from minivdt import course


@pytest.mark.parametrize("env, cuda, expected", [
    ({"MINIVDT_QUICK": "1"}, True, "quick"),
    ({"MINIVDT_QUICK": "1"}, False, "quick"),
    ({"MINIVDT_QUICK": "true"}, False, "quick"),
    ({}, True, "gpu"),
    ({}, False, "cpu"),
    ({"MINIVDT_QUICK": "0"}, False, "cpu"),
    ({"MINIVDT_QUICK": ""}, True, "gpu"),
])
def test_lesson_size(env, cuda, expected):
    assert course.lesson_size(env, cuda) == expected


def test_pick_follows_lesson_size(monkeypatch):
    monkeypatch.setenv("MINIVDT_QUICK", "1")
    assert course.pick(quick=1, cpu=2, gpu=3) == 1 and course.quick_mode()
    monkeypatch.setenv("MINIVDT_QUICK", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert course.pick(quick=1, cpu=2, gpu=3) == 2 and not course.quick_mode()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert course.pick(quick=1, cpu=2, gpu=3) == 3


class FakeClock:
    """time.perf_counter for course: each step advances it by the step's duration."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_estimate_seconds_runs_the_probe_steps_as_training_steps(capsys):
    calls = []
    estimate = course.estimate_seconds(calls.append, total_steps=100, probe_steps=3, warmup_steps=2)
    assert calls == [0, 1, 2, 3, 4]  # two warm-up and three timed steps, numbered like training steps
    assert estimate >= 0 and "estimated duration" in capsys.readouterr().out
    calls.clear()
    course.estimate_seconds(calls.append, total_steps=3)
    assert calls == [0, 1, 2]  # never more steps than the run has
    calls.clear()
    course.estimate_seconds(calls.append, total_steps=1)
    assert calls == [0]


def test_estimate_seconds_excludes_the_first_steps_overhead(monkeypatch):
    """Lesson 5 said 456 s for a 70 s cell: its first steps were several times slower than the rest, and the
    estimate averaged three of them. Here steps 0 and 1 take 4 s, the others 0.2 s, and one timed step is slowed to
    2.2 s by another process: the estimate is what the 300 steps really take."""
    clock = FakeClock()
    monkeypatch.setattr(course.time, "perf_counter", clock)
    durations = [4.0, 4.0, 0.2, 0.2, 2.2, 0.2, 0.2] + [0.2] * 293

    def step(i):
        clock.now += durations[i]

    estimate = course.estimate_seconds(step, total_steps=300)
    for i in range(7, 300):
        step(i)
    assert estimate == pytest.approx(clock.now)  # 69.6 s
    old_rule = sum(durations[1:4]) / 3 * 300  # the mean of steps 1-3 after one warm-up step, for every step
    assert old_rule > 6 * clock.now
    assert course.extrapolate_seconds(durations[:7], 300) == (pytest.approx(clock.now), pytest.approx(0.2))
    assert course.extrapolate_seconds([], 10) == (0.0, 0.0)
    assert course.extrapolate_seconds([3.0], 10) == (30.0, 3.0)  # one step: it is all there is to go on


def test_train_with_estimate_predicts_the_run(tmp_path, capsys, monkeypatch, one_thread):
    """The probe run's set-up, warm-up and median step, extrapolated, against the run it announces (smoke preset;
    a loose bound, since another process may slow either down). The training clips are made once: the run reuses
    them, so the estimate does not count them."""
    import re
    import tempfile
    import time

    from minivdt import training
    from minivdt.training import make_train_config

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the probe runs
    cfg = make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=40, num_train_clips=24)
    made = []
    real = training._training_clips.__wrapped__
    monkeypatch.setattr(training, "_training_clips", functools.lru_cache(maxsize=1)(
        lambda *args: made.append(args) or real(*args)))
    calls = []
    real_train = training.train

    def timed_train(config, **kwargs):
        start = time.perf_counter()
        result = real_train(config, **kwargs)
        calls.append((config.max_steps, time.perf_counter() - start))
        return result

    monkeypatch.setattr(training, "train", timed_train)
    result = course.train_with_estimate(cfg)
    out = capsys.readouterr().out
    estimate = float(re.search(r"estimated duration: (\d+) s for 40 steps", out).group(1))
    assert result.step == 40 and len(result.losses) == 40
    assert [steps for steps, _ in calls] == [course.WARMUP_STEPS + course.PROBE_STEPS, 40]
    assert len(made) == 1  # the probe and the run share one set of training clips
    actual = calls[-1][1]
    assert actual / 3 - 1 <= estimate <= 3 * actual + 1, (estimate, actual)
    assert not list((tmp_path / "tmp").iterdir())  # the probe's folder is removed


def test_denoiser_round_trip_and_training_reduces_the_loss(tmp_path):
    torch.manual_seed(0)
    frames = torch.rand(64, 3, 8, 8) * 2 - 1
    from minivdt.diffusion import make_scheduler
    denoiser = course.TinyDenoiser(width=8)
    losses = course.train_denoiser(denoiser, frames, make_scheduler("ddpm"), steps=40, batch_size=16, progress=False)
    assert len(losses) == 40 and sum(losses[-10:]) < sum(losses[:10])
    course.save_denoiser(denoiser, tmp_path / "d", steps=40)
    loaded, config = course.load_denoiser(tmp_path / "d")
    assert config["steps"] == 40
    x, t = frames[:2], torch.tensor([3, 700])
    with torch.no_grad():
        assert torch.equal(loaded(x, t), denoiser.eval()(x, t))
    with pytest.raises(FileNotFoundError, match="train_lesson4_denoiser"):
        course.load_denoiser(tmp_path / "missing")


def test_bundled_lesson4_denoiser_loads():
    denoiser, config = course.load_denoiser()
    assert config["frame_size"] == 16 and config["prediction_type"] == "epsilon"
    assert course.LESSON4_DENOISER.joinpath("model.safetensors").stat().st_size < 2_000_000


def test_simulate_scene_reproduces_a_simulated_clip():
    from minivdt.world import make_clip

    clip = make_clip("collide", seed=3)
    block = clip.obstacles[0] if clip.obstacle_present[0] else None
    frames, positions = course.simulate_scene(clip.positions[0], clip.velocities[0], clip.present, clip.radii, block)
    assert frames.shape == clip.frames.shape and frames.dtype == clip.frames.dtype
    assert abs(positions - clip.positions)[:, clip.present].max() < 1e-3  # absent slots are never drawn
    assert abs(frames.astype(int) - clip.frames).max() <= 1


def test_simulate_scene_rejects_bad_shapes():
    with pytest.raises(ValueError, match="positions and velocities"):
        course.simulate_scene([[1, 2]], [[0, 0]])


def test_live_view_draws_once_and_redraws_in_place(capsys):
    """Lesson 8's browser drew every picture twice: once by the direct call, once by interact's first call."""
    import inspect

    drawn = []

    def draw(scenario, clip=0, method="VDT"):
        drawn.append((scenario, clip, method))

    view = course.LiveView(draw)
    assert inspect.signature(view.update) == inspect.signature(draw)  # what interact reads its controls from
    with pytest.raises(RuntimeError, match="show"):
        view.update("drop")
    view.show("drop", 1)
    view.update(scenario="drop", clip=1, method="VDT")  # the controls' first call, from the same values
    assert drawn == [("drop", 1, "VDT")]
    view.update("drop", 1, "copy_last_frame")
    assert drawn[-1] == ("drop", 1, "copy_last_frame") and len(drawn) == 2
    output = view.output
    view.update("roll")
    assert view.output is output and len(drawn) == 3  # drawn into the same output, not a new one


@pytest.mark.parametrize("env, threads", [({"OMP_NUM_THREADS": "8"}, 1),
                                          ({"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8", "MINIVDT_THREADS": "2"}, 2)])
def test_notebook_kernels_get_their_threads_from_minivdt_threads_only(tmp_path, env, threads):
    """notebooks/conftest.py used setdefault, so an OMP_NUM_THREADS exported by the user's shell gave every kernel
    that many threads (lessons 6 and 8 4-8x slower on 2 cores): a kernel started under it must see 1 thread, or
    MINIVDT_THREADS."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import nbformat

    shutil.copy(Path(__file__).resolve().parent.parent / "notebooks" / "conftest.py", tmp_path)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(
        "import os, torch\n"
        f"assert torch.get_num_threads() == {threads}, torch.get_num_threads()\n"
        f"assert os.environ['OMP_NUM_THREADS'] == os.environ['MKL_NUM_THREADS'] == '{threads}'")]
    nbformat.write(notebook, tmp_path / "threads.ipynb")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir",
                          str(tmp_path), "--nbval-lax", "--nbval-current-env", "-q", "threads.ipynb"],
                         cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
