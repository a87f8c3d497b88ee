"""The stochastic world (a rough floor) and the true distribution of futures (Lesson 9)."""

import dataclasses

import numpy as np
import pytest

from minivdt.data import split_seeds
from minivdt.futures import future_array, sample_futures
from minivdt.metrics import position_errors
from minivdt.physics import MAX_BOUNCE_TILT, _turn_bounce
from minivdt.render import render
from minivdt.world import SCENARIOS, WorldConfig, make_clips, make_world

SEEDS = list(range(24))


@pytest.fixture(scope="module")
def bounce():
    return make_clips("bounce", SEEDS)


@pytest.fixture(scope="module")
def futures(bounce):
    return sample_futures(bounce, 6)


def test_deterministic_scenarios_ignore_future_draws():
    for scenario in SCENARIOS:
        clips = make_clips(scenario, SEEDS[:6])
        again = make_clips(scenario, SEEDS[:6], future=3, num_given=8)
        assert not clips.rough_floor.any()
        assert np.array_equal(clips.frames, again.frames) and np.array_equal(clips.positions, again.positions)


def test_bounce_lands_on_the_rough_floor_after_the_given_frames(bounce):
    assert bounce.rough_floor.all()
    vy = bounce.velocities[:, :, 0, 1]  # agent, px/frame, y down
    first_up = np.argmax((vy[:, 1:] < 0) & (vy[:, :-1] > 0), axis=1) + 1  # first frame after a floor bounce
    assert np.mean(first_up >= 8) >= 0.9  # the uncertain event falls in frames 9-16 (indices 8-15)
    assert not bounce.contact_frame[(bounce.contact_frame >= 0)].tolist() or np.mean(
        (bounce.contact_frame >= 0) & (bounce.contact_frame < 8)) < 0.1


def test_futures_share_the_past_and_differ_after_it(bounce, futures):
    frames = future_array(futures, len(bounce), "frames")  # (B, M, F, H, W, 3)
    assert frames.shape[:2] == (len(bounce), 6)
    assert np.array_equal(frames[:, :, :8], np.broadcast_to(bounce.frames[:, None, :8], frames[:, :, :8].shape))
    positions = future_array(futures, len(bounce))  # (B, M, F, K, 2)
    spread = positions[:, :, -1, 0].std(axis=1).max(-1)  # agent at the last frame
    assert np.mean(spread > 0.5) > 0.8
    # the observed future (draw 0) is not among the redraws
    assert not np.array_equal(positions[:, 0], bounce.positions)


def test_futures_are_reproducible_and_draw_zero_is_the_clip(bounce, futures):
    again = sample_futures(bounce, 6)
    assert np.array_equal(again.frames, futures.frames)
    more = sample_futures(bounce, 2, first=5)  # draws 5, 6 == futures 5, 6 of the first call's 1..6
    assert np.array_equal(future_array(more, len(bounce), "positions")[:, 0], future_array(futures, len(bounce))[:, 4])
    observed = make_clips("bounce", SEEDS, future=0, num_given=8)
    assert np.array_equal(observed.frames, bounce.frames)


def test_a_zero_bounce_angle_makes_the_world_deterministic():
    world = WorldConfig(bounce_angle=0.0)
    clips = make_clips("bounce", SEEDS[:8], world)
    futures = future_array(sample_futures(clips, 3), 8)
    assert np.array_equal(futures, np.broadcast_to(clips.positions[:, None], futures.shape))


def test_rough_floor_world_makes_existing_scenarios_stochastic():
    world = make_world({"rough_floor": True})
    clips = make_clips("mixed", SEEDS, world)
    assert clips.rough_floor.all()
    futures = sample_futures(clips, 2, scenario="mixed")
    assert not np.array_equal(future_array(futures, len(clips))[:, 0], clips.positions)
    with pytest.raises(ValueError, match="scenario='mixed'"):
        sample_futures(clips, 2)  # each mixed clip records its sub-scenario, not the one it was made with


def test_sample_futures_refuses_what_has_one_future():
    with pytest.raises(ValueError, match="rough floor"):
        sample_futures(make_clips("drop", SEEDS[:2]), 4)
    clips = make_clips("bounce", SEEDS[:2])
    for kwargs, match in (({"num_futures": 0}, "num_futures"), ({"num_futures": 2, "num_given": 16}, "num_given"),
                          ({"num_futures": 2, "scenario": "nope"}, "scenario")):
        with pytest.raises(ValueError, match=match):
            sample_futures(clips, **kwargs)
    other_world = dataclasses.replace(clips, config=WorldConfig(gravity=0.02))
    with pytest.raises(ValueError, match="does not reproduce"):
        sample_futures(other_world, 2)  # same seeds, other world: the given frames differ, the draw would lie


def test_gravel_floor_is_drawn_and_the_tracker_still_follows_the_balls(bounce):
    part = bounce.select(slice(0, 4))
    smooth = render(part.positions, part.radii, part.present, part.obstacles, part.config, rough_floor=False)
    floor = slice(31, 32)  # the bottom row: floor only
    assert np.array_equal(smooth[:, :, floor], np.broadcast_to(smooth[:1, :1, floor], smooth[:, :, floor].shape))
    assert not np.array_equal(part.frames[:, :, floor], smooth[:, :, floor])
    errors, lost = position_errors(bounce.frames, bounce.positions, bounce.present)
    assert errors.mean() < 0.3 and lost.mean() == 0.0


def test_a_turned_bounce_keeps_its_speed_and_leaves_the_floor():
    rng = np.random.default_rng(0)
    vel = np.stack([rng.uniform(-0.1, 0.1, 200), -rng.uniform(0.001, 0.2, 200)], -1)[:, None]  # (B, K=1, 2)
    turn = rng.uniform(-1.5, 1.5, (200, 1))
    out = _turn_bounce(vel, np.ones((200, 1), bool), turn)
    assert np.allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(vel, axis=-1))
    tilt = np.arctan2(out[..., 0], -out[..., 1])
    assert np.all(out[..., 1] < 0) and np.all(np.abs(tilt) <= MAX_BOUNCE_TILT + 1e-9)


@pytest.mark.parametrize("overrides, match", [({"gravty": 1.0}, "unknown key 'gravty'"),
                                              ({"bounce_angle": 120.0}, r"bounce_angle must be in \[0, 90\]"),
                                              ({"rough_floor": "yes"}, "rough_floor must be true or false"),
                                              ({"size": 64}, "unknown key 'size'")])
def test_make_world_names_the_bad_key(overrides, match):
    with pytest.raises(ValueError, match=match):
        make_world(overrides)


def test_val_and_test_bounce_clips_come_from_their_own_seeds():
    val, test = make_clips("bounce", split_seeds("val", 4)), make_clips("bounce", split_seeds("test", 4))
    assert not np.array_equal(val.frames, test.frames)
