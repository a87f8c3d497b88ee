"""Tool — small visual helpers: frame grids, side-by-side videos, mp4/gif/png writing and a notebook plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEPARATOR_COLOR = np.array([255, 255, 255], dtype=np.uint8)
_FFMPEG_READY = False


def mediapy_with_ffmpeg():
    """mediapy, pointed at the ffmpeg binary shipped by imageio-ffmpeg (set up once, on first use)."""
    global _FFMPEG_READY
    import mediapy

    if not _FFMPEG_READY:
        import imageio_ffmpeg

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
        _FFMPEG_READY = True
    return mediapy


def _as_uint8_frames(frames, name="frames") -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8, got {frames.dtype}")
    if frames.ndim < 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., F, H, W, 3), got {frames.shape}")
    return frames


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour integer upscaling of (..., H, W, 3) images."""
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)


def frame_grid(frames, scale: int = 1, separator: int = 1) -> np.ndarray:
    """Tile clips into one uint8 image: rows = clips, columns = frames, `separator` px white lines between."""
    frames = _as_uint8_frames(np.stack(frames) if isinstance(frames, (list, tuple)) else frames)
    if frames.ndim == 4:
        frames = frames[None]
    frames = upscale(frames.reshape((-1,) + frames.shape[-4:]), scale)  # (R, F, H, W, 3)
    R, F, H, W, _ = frames.shape
    grid = np.empty((R * H + (R - 1) * separator, F * W + (F - 1) * separator, 3), np.uint8)
    grid[:] = SEPARATOR_COLOR
    for r in range(R):
        for f in range(F):
            y, x = r * (H + separator), f * (W + separator)
            grid[y:y + H, x:x + W] = frames[r, f]
    return grid


def side_by_side(truth, prediction, separator: int = 1) -> np.ndarray:
    """Concatenate two videos (F, H, W, 3) horizontally with a separator -> (F, H, 2W + sep, 3)."""
    truth, prediction = _as_uint8_frames(truth, "truth"), _as_uint8_frames(prediction, "prediction")
    if truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction must have the same shape, got {truth.shape} and {prediction.shape}")
    line = np.broadcast_to(SEPARATOR_COLOR, truth.shape[:-2] + (separator, 3))
    return np.concatenate([truth, line, prediction], axis=-2)


def save_video(path, frames, fps: int = 8) -> Path:
    """Write (F, H, W, 3) uint8 frames as .mp4 (H.264) or .gif; returns the path."""
    path = Path(path)
    frames = _as_uint8_frames(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (F, H, W, 3), got {frames.shape}")
    if path.suffix not in (".mp4", ".gif"):
        raise ValueError(f"path must end in .mp4 or .gif, got {path.name!r}")
    if path.suffix == ".mp4" and (frames.shape[1] % 2 or frames.shape[2] % 2):
        frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "gif" if path.suffix == ".gif" else "h264"
    mediapy_with_ffmpeg().write_video(path, frames, fps=fps, codec=codec)
    return path


def save_image(path, img) -> Path:
    """Write a uint8 (H, W, 3) image (PNG recommended); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mediapy_with_ffmpeg().write_image(path, np.asarray(img, dtype=np.uint8))
    return path


def show_clip(frames, title: str | None = None, scale: int = 1):
    """Plot a clip (F, H, W, 3) or clips (B, F, H, W, 3) as a frame grid with matplotlib; returns the figure."""
    import matplotlib.pyplot as plt

    grid = frame_grid(frames, scale=scale)
    fig, ax = plt.subplots(figsize=(min(16, grid.shape[1] / 40 + 1), min(10, grid.shape[0] / 40 + 0.8)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_grid(clips, title: str | None = None, scale: int = 2):
    """Show clips in a notebook as a pixel-exact frame grid (rows = clips, columns = frames), a small embedded PNG."""
    grid = frame_grid(clips)
    mediapy_with_ffmpeg().show_image(grid, title=title, height=scale * grid.shape[0])
