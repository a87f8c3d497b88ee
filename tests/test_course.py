"""minivdt.course: the lesson size follows MINIVDT_QUICK and the hardware; the duration estimate runs real steps."""

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


def test_estimate_seconds_runs_the_probe_steps_as_training_steps(capsys):
    calls = []
    estimate = course.estimate_seconds(calls.append, total_steps=100, probe_steps=3)
    assert calls == [0, 1, 2, 3]  # one warm-up and three timed steps, numbered like training steps
    assert estimate >= 0 and "estimated duration" in capsys.readouterr().out


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
