"""Tests of pixel metrics, the colour tracker, the contact read-out, baselines and evaluate()."""

import numpy as np
import pytest

from minivdt import metrics
from minivdt import baselines
from minivdt.baselines import BASELINES
from minivdt.render import render
from minivdt.world import SCENARIOS, WorldConfig, make_clips


@pytest.fixture(scope="module")
def batch():
    return make_clips("mixed", range(64))


def test_pixel_metrics_known_cases():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    assert metrics.mse(x, x).shape == (3,) and (metrics.mse(x, x) == 0).all()
    np.testing.assert_allclose(metrics.ssim(x, x), 1.0)
    assert (metrics.psnr(x, x) == metrics.PSNR_MAX).all()
    noisy = [np.clip(x + rng.normal(0, s, x.shape), 0, 255).astype(np.uint8) for s in (20, 5)]
    assert (metrics.psnr(noisy[1], x) > metrics.psnr(noisy[0], x)).all()
    assert (metrics.ssim(noisy[1], x) > metrics.ssim(noisy[0], x)).all()
    assert (metrics.ssim(noisy[0], x) < 1).all()
    np.testing.assert_allclose(metrics.psnr(np.zeros((1, 4, 4, 3), np.uint8), np.full((1, 4, 4, 3), 255, np.uint8)), 0)
    with pytest.raises(ValueError, match="same shape"):
        metrics.mse(x, x[:2])


def test_tracker_is_sub_pixel(batch):
    positions, found = metrics.track_balls(batch.frames)
    present = np.broadcast_to(batch.present[:, None], found.shape)
    assert found[present].all() and not found[~present].any()
    error = np.linalg.norm(positions - batch.positions, axis=-1)[present]
    assert error.mean() < 0.1 and error.max() < 1.0


def test_tracker_on_block_and_wall():
    cfg = WorldConfig()
    # ball 0 overlapping the block's edge, ball 1 against the left wall, ball 2 resting on the floor
    truth = np.array([[[12.3, 20.4], [3.0, 10.7], [27.6, 26.5]]], np.float32)  # (F=1, K, 2)
    radii = np.array([3.2, 3.0, 3.5], np.float32)
    block = np.array([[10.5, 19.2, 15.7, 30.0]], np.float32)
    frames = render(truth, radii, np.ones(3, bool), block, cfg)
    positions, found = metrics.track_balls(frames)
    assert found.all()
    assert np.linalg.norm(positions - truth, axis=-1).max() < 0.3


def test_position_errors_and_lost_balls(batch):
    clips = batch.select(slice(0, 4))
    errors, lost = metrics.position_errors(clips.frames, clips.positions, clips.present)
    assert errors.shape == lost.shape == (4, 16) and errors.max() < 1 and (lost == 0).all()
    blank = np.broadcast_to(clips.frames[:, :, :1, :1], clips.frames.shape).copy()  # background only
    errors, lost = metrics.position_errors(blank, clips.positions, clips.present)
    assert (lost == 1).all() and np.allclose(errors, 32 / 4)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_contact_readout_agrees_with_simulator(scenario):
    clips = make_clips(scenario, range(300))
    agreement = (metrics.contact_readout(clips.positions, clips) == clips.contact).mean()
    assert agreement >= 0.95, agreement


def test_baselines_shapes_and_static_clip(batch):
    clips = batch.select(slice(0, 8))
    context = clips.frames[:, :8]
    assert baselines.copy_last_frame(context, 8).shape == (8, 8, 32, 32, 3)
    cv = baselines.constant_velocity(context, 8, clips)
    assert cv.shape == (8, 8, 32, 32, 3) and cv.dtype == np.uint8
    # a clip where nothing moves: copy-last-frame is perfect, constant velocity almost so
    static = clips.select(slice(0, 1))
    static.frames = np.repeat(static.frames[:, :1], 16, axis=1)
    static.positions = np.repeat(static.positions[:, :1], 16, axis=1)
    result = metrics.evaluate(BASELINES["copy_last_frame"], static)
    assert result["position_error"] < 0.1 and result["psnr"] == metrics.PSNR_MAX and result["lost_fraction"] == 0
    result = metrics.evaluate(BASELINES["constant_velocity"], static)
    assert result["position_error"] < 0.3


def test_evaluate_and_table(batch):
    results = metrics.evaluate(BASELINES["constant_velocity"], batch.select(slice(0, 16)))
    assert results["position_error_per_step"].shape == (8,) and results["psnr_per_step"].shape == (8,)
    assert 0 <= results["contact_accuracy"] <= 1 and 0 < results["ssim"] < 1
    with pytest.raises(ValueError, match="predict_fn must return"):
        metrics.evaluate(lambda context, clips, num_future: context, batch.select(slice(0, 2)), num_given=4)
    table = baselines.baseline_table(num_per_scenario=4, scenarios=("drop",))
    oracle = table["drop"]["oracle (true frames)"]
    assert oracle["position_error"] < 0.1 and table["drop"]["copy_last_frame"]["position_error"] > 1
    text = metrics.format_table(table)
    assert "constant_velocity" in text and "drop" in text


@pytest.mark.parametrize("scenario", ["drop", "roll"])
def test_noise_and_blank_frames_score_at_the_cap(scenario):
    """The yardstick must not reward noise: uniform noise and ball-less frames lose every ball."""
    clips = make_clips(scenario, range(16))
    for name, reference in baselines.REFERENCES.items():
        result = metrics.evaluate(reference, clips)
        assert result["lost_fraction"] == 1.0, name
        assert result["position_error"] == pytest.approx(32 / 4), name


def test_tracker_rejects_scattered_colour_but_keeps_a_ball():
    cfg = WorldConfig()
    frames = render(np.array([[[16.0, 12.0], [6.0, 8.0], [26.0, 8.0]]], np.float32), np.full(3, 3.0), config=cfg)
    red = metrics.BALL_COLORS[0]
    sprinkled = frames.copy()
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, 32, 40), rng.integers(0, 32, 40)
    sprinkled[0, ys[:8], xs[:8]] = red  # a few stray red pixels beside a clean ball: still tracked
    sprinkled[0, 9:16, 13:20] = frames[0, 9:16, 13:20]
    positions, found = metrics.track_balls(sprinkled)
    assert found.all() and np.linalg.norm(positions[0, 0] - [16.0, 12.0]) < 1.0
    no_ball = render(np.zeros((1, 3, 2), np.float32), np.full(3, 3.0), np.zeros(3, bool), config=cfg)
    no_ball[0, ys, xs] = red  # 40 isolated red pixels, as much red as a ball, but no blob: not a ball
    _, found = metrics.track_balls(no_ball)
    assert not found[0, 0]
