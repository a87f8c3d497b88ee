"""Tests of frame grids and video/image writing."""

import mediapy
import numpy as np
import pytest

from minivdt import viz
from minivdt.world import make_clip


def test_frame_grid_layout():
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 5, 3), dtype=np.uint8)
    grid = viz.frame_grid(frames)
    assert grid.shape == (2 * 4 + 1, 3 * 5 + 2, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[5:9, 6:11], frames[1, 1])
    assert (grid[4] == 255).all()  # separator row
    assert viz.frame_grid(list(frames), scale=2).shape == (2 * 8 + 1, 3 * 10 + 2, 3)
    assert viz.frame_grid(frames[0]).shape == (4, 17, 3)


def test_side_by_side():
    a, b = np.zeros((3, 4, 4, 3), np.uint8), np.full((3, 4, 4, 3), 9, np.uint8)
    out = viz.side_by_side(a, b)
    assert out.shape == (3, 4, 9, 3) and (out[..., 5:, :] == 9).all()
    with pytest.raises(ValueError, match="same shape"):
        viz.side_by_side(a, b[:2])


def test_video_round_trip(tmp_path):
    frames = make_clip("drop", 0).frames.repeat(4, axis=1).repeat(4, axis=2)
    path = viz.save_video(tmp_path / "clip.mp4", frames)
    video = mediapy.read_video(path)
    assert video.shape == frames.shape
    assert np.abs(video.astype(int) - frames).mean() < 8  # lossy but close
    gif = viz.save_video(tmp_path / "clip.gif", frames)
    assert gif.read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match="path"):
        viz.save_video(tmp_path / "clip.avi", frames)


def test_save_image_and_show_clip(tmp_path):
    frames = make_clip("roll", 0).frames
    path = viz.save_image(tmp_path / "grid.png", viz.frame_grid(frames))
    np.testing.assert_array_equal(mediapy.read_image(path)[..., :3], viz.frame_grid(frames))
    import matplotlib
    matplotlib.use("Agg")
    fig = viz.show_clip(frames, title="roll")
    assert fig.axes[0].get_title() == "roll"


def test_show_grid_runs_headless(capsys):
    frames = np.zeros((2, 3, 8, 8, 3), np.uint8)
    viz.show_grid(frames, title="two clips")  # outside a notebook IPython prints a placeholder
