"""Tool — clips of your own for training and evaluation: an .npz from `minivdt data generate` or a folder of video
files, cut into windows, resized and split into train/val by file, so a model is never scored on what it trained on.

How a folder is read (nothing is ever written into it):
- Files are found recursively and taken in sorted order of their path relative to the folder. Hidden files and
  folders (a name starting with ".") are ignored silently; every other file is either read or named in `skipped`
  with its reason: "not a video: .txt" (only .mp4, .gif and .webm are read), "unreadable: <ffmpeg's last line>" or
  "too short: 7 frames, need 16 for one window".
- mediapy decodes each video with imageio-ffmpeg's ffmpeg (viz.mediapy_with_ffmpeg) as rgb24, so alpha is dropped
  and greyscale becomes three equal channels. Frames are taken at the file's own frame rate, never resampled.
- Each frame is centre-cropped to its largest square, then resized to size x size with mediapy's Lanczos filter
  (PIL); a frame already size x size is kept exactly.
- A video of L frames gives L // num_frames non-overlapping windows; its last L % num_frames frames are dropped.

The split is by file (for an .npz, by clip index): a seeded permutation puts round(val_fraction * n) files, at
least one, in val and the rest, at least one, in train. Fewer than 2 usable files is an error, because a split by
window would score the model on frames next to the ones it trained on.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .viz import mediapy_with_ffmpeg

VIDEO_SUFFIXES = (".mp4", ".gif", ".webm")
MIN_SIZE, MAX_SIZE = 16, 512  # the frame sizes `minivdt data generate --size` accepts
MIN_FILES = 2  # one for train and one for val
_ACCEPTED = "an .npz from `minivdt data generate` or a folder of .mp4/.gif/.webm videos"


@dataclass(frozen=True)
class UserClips:
    """Windows of user clips, uint8 RGB (N, num_frames, size, size, 3), split by file.

    train_files / val_files name the files (or "clip i" of an .npz) behind each split; skipped holds
    (name, reason) for every file that was not read."""

    source: str
    train: np.ndarray  # (N_train, F, size, size, 3) uint8
    val: np.ndarray  # (N_val, F, size, size, 3) uint8
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    num_frames: int
    size: int

    def summary(self) -> str:
        """One line: files read, the split, window counts and every skipped file with its reason."""
        unit = "clips" if self.source.endswith(".npz") else "files"
        read = len(self.train_files) + len(self.val_files)
        line = (f"{self.source}: {read} {unit} read ({len(self.train_files)} train, {len(self.val_files)} val: "
                f"{len(self.train)} and {len(self.val)} windows of {self.num_frames} frames at "
                f"{self.size}x{self.size}), {len(self.skipped)} skipped")
        return line + "".join((": " if i == 0 else ", ") + f"{name} ({reason})"
                              for i, (name, reason) in enumerate(self.skipped))


def load_clips(path, num_frames: int, size: int, val_fraction: float = 0.2, seed: int = 0) -> UserClips:
    """Read PATH (an .npz from `minivdt data generate` or a folder of videos) into train/val windows.

    Bad arguments raise a one-line ValueError (FileNotFoundError for a missing path) naming the argument and the
    accepted range; see the module docstring for how files are read, resized and split."""
    _check_int("num_frames", num_frames, 2)
    _check_int("size", size, MIN_SIZE, MAX_SIZE)
    number = isinstance(val_fraction, (int, float, np.integer, np.floating)) and not isinstance(val_fraction, bool)
    if not number or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    _check_int("seed", seed, 0)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {path} does not exist (expected {_ACCEPTED})")
    if path.is_dir():
        source = str(path).rstrip("/") + "/"
        windows, skipped = _read_folder(path, num_frames, size)  # {name: (W, F, size, size, 3)}
    elif path.suffix.lower() == ".npz":
        source, skipped = str(path), ()
        windows = _read_npz(path, num_frames, size)
    else:
        raise ValueError(f"path must be {_ACCEPTED}, got the file {path} (put videos in a folder of at least "
                         f"{MIN_FILES})")
    if len(windows) < MIN_FILES:
        unit = ("clip" if path.is_file() else "video") + ("" if len(windows) == 1 else "s")
        read = f" ({', '.join(windows)})" if windows else ""
        skips = "; skipped: " + ", ".join(f"{n} ({r})" for n, r in skipped) if skipped else ""
        raise ValueError(f"path {source} has {len(windows)} usable {unit}{read}, need at least {MIN_FILES}: train "
                         f"and val are split by file, so no window is both trained on and scored{skips}")
    names = list(windows)
    order = np.random.default_rng(seed).permutation(len(names))
    num_val = min(len(names) - 1, max(1, round(val_fraction * len(names))))
    val_files = tuple(names[i] for i in sorted(order[:num_val]))
    train_files = tuple(names[i] for i in sorted(order[num_val:]))
    return UserClips(source=source, train=np.concatenate([windows[n] for n in train_files]),
                     val=np.concatenate([windows[n] for n in val_files]), train_files=train_files,
                     val_files=val_files, skipped=tuple(skipped), num_frames=num_frames, size=size)


def _check_int(name: str, value, low: int, high: int | None = None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high and value > high):
        accepted = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ValueError(f"{name} must be {accepted}, got {value!r}")


# --------------------------------------------------------------------------------------------
#  Frames -> windows
# --------------------------------------------------------------------------------------------

def square(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: centre crop to the largest square, then a Lanczos resize."""
    H, W = image.shape[:2]
    side = min(H, W)
    top, left = (H - side) // 2, (W - side) // 2
    image = image[top:top + side, left:left + side]  # (side, side, 3)
    return image if side == size else mediapy_with_ffmpeg().resize_image(image, (size, size))


def windows_of(frames: np.ndarray, num_frames: int) -> np.ndarray:
    """(L, H, W, 3) -> (L // num_frames, num_frames, H, W, 3): non-overlapping windows, the remainder dropped."""
    count = len(frames) // num_frames
    return frames[:count * num_frames].reshape((count, num_frames) + frames.shape[1:])


def _read_folder(folder: Path, num_frames: int, size: int):
    """({name: windows (W, F, size, size, 3)} of the usable videos, [(name, reason)] of the skipped files)."""
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    files = [f for f in files if not any(part.startswith(".") for part in f.parts)]
    if not files:
        raise ValueError(f"path {folder} is an empty folder (expected {_ACCEPTED})")
    windows, skipped = {}, []
    for name in files:
        reason = None
        if name.suffix.lower() not in VIDEO_SUFFIXES:
            reason = f"not a video: {name.suffix or 'no extension'}"
        else:
            frames, reason = _read_video(folder / name, size)  # (L, size, size, 3)
            if reason is None and len(frames) < num_frames:
                reason = f"too short: {len(frames)} frames, need {num_frames} for one window"
        if reason is None:
            windows[name.as_posix()] = windows_of(frames, num_frames)
        else:
            skipped.append((name.as_posix(), reason))
    return windows, skipped


def _read_video(path: Path, size: int):
    """(frames (L, size, size, 3) uint8, None), or (None, "unreadable: ...") when ffmpeg cannot decode it."""
    try:
        with mediapy_with_ffmpeg().VideoReader(path) as reader:
            frames = [square(frame, size) for frame in reader]  # L x (size, size, 3)
    except (RuntimeError, OSError, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return None, f"unreadable: {lines[-1] if lines else type(error).__name__}"
    return np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8), None


def _read_npz(path: Path, num_frames: int, size: int) -> dict[str, np.ndarray]:
    """{"clip i": windows (W, F, size, size, 3)} of a minivdt clip file (frames (N, F, H, H, 3) uint8 + meta)."""
    not_ours = f"path {path} is not a minivdt clip file (an .npz from `minivdt data generate`, with frames and meta)"
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a .npy array, not an .npz archive")
        with data:
            meta, frames = json.loads(str(data["meta"])), data["frames"]  # frames: (N, F, H, W, 3)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{not_ours}: {type(error).__name__}: {error}") from error
    if not isinstance(meta, dict) or "version" not in meta:
        raise ValueError(f"{not_ours}: its meta is not a minivdt cache's")
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3 or frames.shape[2] != frames.shape[3]:
        raise ValueError(f"{not_ours}: frames must be uint8 (N, F, H, H, 3), got {frames.dtype} {frames.shape}")
    N, F, H = frames.shape[:3]
    if F < num_frames:
        raise ValueError(f"num_frames must be in [2, {F}] for {path} (its clips have {F} frames), got {num_frames}")
    if H != size:
        frames = np.stack([square(image, size) for image in frames.reshape(-1, H, H, 3)]).reshape(N, F, size, size, 3)
    return {f"clip {i}": windows_of(clip, num_frames) for i, clip in enumerate(frames)}
