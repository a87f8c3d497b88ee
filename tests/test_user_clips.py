"""Tests of user_clips: a real folder of small videos written with mediapy (no mocks) and a minivdt .npz."""

import json

import numpy as np
import pytest

from minivdt.data import BallClips
from minivdt.user_clips import load_clips, square
from minivdt.viz import mediapy_with_ffmpeg

NUM_FRAMES, SIZE = 16, 16
# name: (frames, height, width); every file has its own background colour, so windows of two files never match
VIDEOS = {"a.mp4": (40, 24, 40), "b.gif": (33, 32, 32), "c_grey.mp4": (16, 36, 48), "sub/d.mp4": (50, 32, 32),
          "e.webm": (20, 16, 16), "short.gif": (10, 32, 32)}
USABLE_WINDOWS = {"a.mp4": 2, "b.gif": 2, "c_grey.mp4": 1, "sub/d.mp4": 3, "e.webm": 1}  # frames // NUM_FRAMES
SKIPPED = {"broken.mp4": "unreadable: ", "notes.txt": "not a video: .txt", "short.gif": "too short: 10 frames, need 16"}


def moving_square(index: int, frames: int, height: int, width: int) -> np.ndarray:
    """(frames, height, width, 3) uint8: a white square moving right over a background colour of its own."""
    video = np.empty((frames, height, width, 3), np.uint8)
    video[:] = (40 * index % 256, 255 - 30 * index, 60 + 25 * index)
    for f in range(frames):
        x = f % (width - 6)
        video[f, height // 2 - 3:height // 2 + 3, x:x + 6] = 255
    return video


def background(name: str) -> tuple:
    """The RGB background of video `name` as written (greyscale keeps the red channel)."""
    colour = moving_square(list(VIDEOS).index(name), 1, 8, 8)[0, 0, 0]
    return (colour[0],) * 3 if "grey" in name else tuple(colour)


def write_videos(folder, names):
    media = mediapy_with_ffmpeg()
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        video = moving_square(list(VIDEOS).index(name), *VIDEOS[name])
        codec = {".gif": "gif", ".webm": "vp9"}.get(path.suffix, "h264")
        media.write_video(path, video[..., 0] if "grey" in name else video, fps=8, codec=codec)


def listing(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """videos/: five usable videos (mp4, gif, webm, greyscale, one in a subfolder), one too short, one corrupt .mp4,
    a .txt and a hidden file."""
    folder = tmp_path_factory.mktemp("videos")
    write_videos(folder, VIDEOS)
    (folder / "broken.mp4").write_bytes(b"this is not an mp4 " * 20)
    (folder / "notes.txt").write_text("my clips\n")
    (folder / ".hidden.mp4").write_bytes(b"editor backup")
    return folder


@pytest.fixture(scope="module")
def clips(videos):
    return load_clips(videos, NUM_FRAMES, SIZE, val_fraction=0.4, seed=0)


def test_windows_shapes_and_dtype(clips):
    for split in (clips.train, clips.val):
        assert split.dtype == np.uint8 and split.shape[1:] == (NUM_FRAMES, SIZE, SIZE, 3)
    assert len(clips.train) == sum(USABLE_WINDOWS[n] for n in clips.train_files)
    assert len(clips.val) == sum(USABLE_WINDOWS[n] for n in clips.val_files)
    assert (clips.num_frames, clips.size) == (NUM_FRAMES, SIZE)


def test_split_is_by_file(clips):
    assert not set(clips.train_files) & set(clips.val_files)
    assert sorted(clips.train_files + clips.val_files) == sorted(USABLE_WINDOWS)
    assert len(clips.val_files) == 2  # round(0.4 * 5)
    train_windows = {window.tobytes() for window in clips.train}
    assert not any(window.tobytes() in train_windows for window in clips.val)
    for names, windows in ((clips.train_files, clips.train), (clips.val_files, clips.val)):
        expected = [background(name) for name in names for _ in range(USABLE_WINDOWS[name])]
        corners = windows[:, :, 0, 0].astype(int)  # (N, F, 3): the background, far from the moving square
        assert np.abs(corners - np.array(expected)[:, None]).max() <= 12  # windows in file order; lossy codecs


def test_skipped_files_are_named_with_reasons(clips):
    skipped = dict(clips.skipped)
    assert sorted(skipped) == sorted(SKIPPED)
    for name, reason in SKIPPED.items():
        assert skipped[name].startswith(reason), (name, skipped[name])
    assert len(skipped["broken.mp4"]) > len("unreadable: ")  # ffmpeg's own last line follows
    summary = clips.summary()
    assert summary.startswith(f"{clips.source}: 5 files read (3 train, 2 val: {len(clips.train)} and "
                              f"{len(clips.val)} windows of 16 frames at 16x16), 3 skipped: ")
    assert all(name in summary for name in SKIPPED) and ".hidden" not in summary and "\n" not in summary


def test_split_is_deterministic_from_the_seed(videos, clips):
    again = load_clips(videos, NUM_FRAMES, SIZE, val_fraction=0.4, seed=0)
    assert (again.train_files, again.val_files) == (clips.train_files, clips.val_files)
    np.testing.assert_array_equal(again.train, clips.train)
    np.testing.assert_array_equal(again.val, clips.val)
    assert load_clips(videos, NUM_FRAMES, SIZE, val_fraction=0.4, seed=1).val_files != clips.val_files


def test_nothing_is_written_into_the_folder(videos):
    before = listing(videos)
    load_clips(videos, 8, 32, seed=3)
    assert listing(videos) == before


def test_greyscale_becomes_three_channels(clips):
    in_train = "c_grey.mp4" in clips.train_files
    names, windows = (clips.train_files, clips.train) if in_train else (clips.val_files, clips.val)
    start = sum(USABLE_WINDOWS[n] for n in names[:names.index("c_grey.mp4")])  # windows are in file order
    window = windows[start].astype(int)  # (F, size, size, 3)
    assert np.abs(window - window[..., :1]).max() <= 2  # R = G = B up to H.264's rounding


def test_square_crops_the_centre_then_resizes():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10], image[:, 10:30], image[:, 30:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    np.testing.assert_array_equal(square(image, 20), image[:, 10:30])  # already square after the crop: exact
    small = square(image, 16)
    assert small.shape == (16, 16, 3) and small.dtype == np.uint8
    assert np.abs(small.astype(int) - (0, 255, 0)).max() <= 2
    assert square(image.transpose(1, 0, 2), 20).shape == (20, 20, 3)  # tall frames are cropped top and bottom


def test_npz_from_data_generate(tmp_path):
    cache = tmp_path / "x.npz"
    frames = BallClips("val", scenarios=("drop",), num_clips=8, cache=cache).get_batch().frames  # (8, 16, 32, 32, 3)
    clips = load_clips(cache, 8, 32, val_fraction=0.25, seed=1)
    assert (len(clips.train_files), len(clips.val_files)) == (6, 2)
    assert clips.train.shape == (12, 8, 32, 32, 3) and clips.val.shape == (4, 8, 32, 32, 3)
    val_ids = [int(name.split()[1]) for name in clips.val_files]
    np.testing.assert_array_equal(clips.val[0], frames[val_ids[0], :8])  # same size: the frames themselves
    np.testing.assert_array_equal(clips.val[1], frames[val_ids[0], 8:])
    assert clips.summary().startswith(f"{cache}: 8 clips read (6 train, 2 val: 12 and 4 windows") and not clips.skipped
    assert load_clips(cache, 16, 16).train.shape[1:] == (16, 16, 16, 3)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


META = json.dumps({"version": 2})


@pytest.mark.parametrize("case, error, message", [
    ("missing", FileNotFoundError, r"path .*nowhere does not exist \(expected an .npz .* or a folder"),
    ("empty folder", ValueError, r"path .* is an empty folder"),
    ("no usable video", ValueError, r"has 0 usable videos, need at least 2: .*skipped: broken.mp4 \(unreadable: .*"
                                    r"notes.txt \(not a video: .txt\)"),
    ("one usable video", ValueError, r"has 1 usable video \(a.mp4\), need at least 2: train and val are split by file"),
    ("a video file", ValueError, r"path must be an .npz .* or a folder .*, got the file .*a.mp4"),
    ("num_frames=1", ValueError, r"num_frames must be an int >= 2, got 1"),
    ("size=8", ValueError, r"size must be an int in \[16, 512\], got 8"),
    ("size=1024", ValueError, r"size must be an int in \[16, 512\], got 1024"),
    ("val_fraction=0", ValueError, r"val_fraction must be a number in \(0, 1\), got 0"),
    ("val_fraction=1.0", ValueError, r"val_fraction must be a number in \(0, 1\), got 1.0"),
    ("seed=-1", ValueError, r"seed must be an int >= 0, got -1"),
    ("npz without meta", ValueError, r"is not a minivdt clip file .*KeyError"),
    ("npz of float frames", ValueError, r"frames must be uint8 \(N, F, H, H, 3\), got float32"),
    ("npz of 4-d frames", ValueError, r"frames must be uint8 \(N, F, H, H, 3\), got uint8 \(16, 16, 16, 3\)"),
    ("npz of pickled objects", ValueError, r"is not a minivdt clip file .*pickle"),
    ("npz of random bytes", ValueError, r"is not a minivdt clip file"),
    ("npz of one clip", ValueError, r"has 1 usable clip \(clip 0\), need at least 2"),
    ("npz clips too short", ValueError, r"num_frames must be in \[2, 4\] for .* \(its clips have 4 frames\), got 16"),
])
def test_bad_inputs_get_one_line(tmp_path, case, error, message):
    folder = tmp_path / "in"
    folder.mkdir()
    kwargs = dict(num_frames=16, size=16)
    path = folder
    if case == "missing":
        path = tmp_path / "nowhere"
    elif case == "no usable video":
        (folder / "broken.mp4").write_bytes(b"\0" * 64)
        (folder / "notes.txt").write_text("x")
    elif case in ("one usable video", "a video file"):
        write_videos(folder, ["a.mp4"])
        path = folder / "a.mp4" if case == "a video file" else folder
    elif "=" in case:
        name, value = case.split("=")
        kwargs[name] = float(value) if "." in value else int(value)
        write_videos(folder, ["e.webm"])
    elif case.startswith("npz"):
        frames = np.zeros((2, 16, 16, 16, 3), np.uint8)
        arrays = {"npz without meta": dict(frames=frames),
                  "npz of float frames": dict(frames=frames.astype(np.float32), meta=META),
                  "npz of 4-d frames": dict(frames=frames[0], meta=META),
                  "npz of pickled objects": dict(frames=np.array([None], dtype=object), meta=META),
                  "npz of one clip": dict(frames=frames[:1], meta=META),
                  "npz clips too short": dict(frames=frames[:, :4], meta=META)}.get(case)
        path = folder / "clips.npz"
        if arrays is None:
            path.write_bytes(b"PK\3\4 truncated zip")
        else:
            _npz(path, **arrays)
    with pytest.raises(error, match=message) as caught:
        load_clips(path, **kwargs)
    assert "\n" not in str(caught.value)
