"""Tests of tensor conversion, splits, the Dataset and its .npz cache."""

import numpy as np
import pytest
import torch

from minivdt.data import BallClips, split_seeds, to_tensor, to_uint8
from minivdt.world import WorldConfig, make_clip


def test_to_tensor_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 3), dtype=np.uint8)
    video = to_tensor(frames)
    assert video.shape == (2, 4, 3, 8, 8) and video.dtype == torch.float32
    assert video.min() >= -1 and video.max() <= 1
    np.testing.assert_array_equal(to_uint8(video), frames)
    np.testing.assert_array_equal(to_uint8(torch.full((1, 3, 2, 2), 5.0)), np.full((1, 2, 2, 3), 255, np.uint8))


def test_to_tensor_rejects_float():
    with pytest.raises(TypeError, match="frames must be uint8"):
        to_tensor(np.zeros((2, 4, 4, 3), np.float32))


def test_splits_are_disjoint():
    train, val, test = (set(split_seeds(s, 1000)) for s in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    with pytest.raises(ValueError, match="split"):
        split_seeds("dev", 3)


def test_item_contents():
    data = BallClips("val", scenarios=("drop", "collide"), num_clips=3)
    assert len(data) == 6
    item = data[4]
    assert item["video"].shape == (16, 3, 32, 32) and item["video"].dtype == torch.float32
    assert item["positions"].shape == (16, 3, 2) and item["radii"].shape == (3,) and item["present"].dtype == torch.bool
    assert item["scenario_id"] == 3 and item["index"] == 4
    clip = data.get_clip(4)
    assert clip.seed == split_seeds("val", 3)[1]
    np.testing.assert_array_equal(to_uint8(item["video"]), make_clip("collide", clip.seed).frames)
    batch = torch.utils.data.default_collate([data[0], data[1]])
    assert batch["video"].shape == (2, 16, 3, 32, 32)


def test_bad_arguments():
    with pytest.raises(ValueError, match="scenarios"):
        BallClips("test", scenarios=("fly",))
    with pytest.raises(ValueError, match="num_clips"):
        BallClips("test", num_clips=0)
    with pytest.raises(IndexError, match="index"):
        BallClips("test", scenarios="drop", num_clips=2)[2]


def test_cache_round_trip(tmp_path):
    path = tmp_path / "clips.npz"
    fresh = BallClips("test", scenarios=("roll", "mixed"), num_clips=4, cache=path)
    assert path.exists()
    loaded = BallClips("test", scenarios=("roll", "mixed"), num_clips=4, cache=path)
    on_the_fly = BallClips("test", scenarios=("roll", "mixed"), num_clips=4)
    for i in range(len(loaded)):
        np.testing.assert_array_equal(loaded[i]["video"], on_the_fly[i]["video"])
        assert loaded.get_clip(i).contact == fresh.get_clip(i).contact == on_the_fly.get_clip(i).contact
        assert loaded.get_clip(i).scenario == on_the_fly.get_clip(i).scenario


def test_cache_mismatch_and_corruption(tmp_path):
    path = tmp_path / "clips.npz"
    BallClips("test", scenarios="drop", num_clips=2, cache=path)
    with pytest.raises(ValueError, match="does not match.*num_clips"):
        BallClips("test", scenarios="drop", num_clips=3, cache=path)
    with pytest.raises(ValueError, match="does not match.*config"):
        BallClips("test", scenarios="drop", num_clips=2, config=WorldConfig(size=64), cache=path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt"):
        BallClips("test", scenarios="drop", num_clips=2, cache=path)
