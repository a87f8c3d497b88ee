"""A tool module, not a lesson: argument checks shared by the library and the command line.

Each check raises a one-line ValueError (TypeError for a wrong type) that names the argument and the accepted
range, so a bad input stops before any compute or output.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np

MAX_SEED = 2**32 - 1  # numpy's legacy seeding and most tools accept [0, 2**32)
VIDEO_SUFFIXES = (".mp4", ".gif")  # what viz.save_video writes


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """`value` as a Python int in [low, high]; bools, floats and strings are refused (numpy ints are fine)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an int in {_range(low, high)}, got {value}")
    return value


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> float:
    """`value` as a finite float in [low, high] (or (low, high] with low_open)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    if not math.isfinite(value) or below or (high is not None and value > high):
        raise ValueError(f"{name} must be a finite number in {_range(low, high, low_open)}, got {value}")
    return value


def check_seed(name: str, value) -> int:
    return check_int(name, value, 0, MAX_SEED)


def _range(low, high, low_open=False) -> str:
    left = "(" if low_open else "["
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def check_output(name: str, path, kind: str = "file", suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse an output path that cannot be written, before any compute: an empty path (never a default), a file
    where a folder is wanted (or the reverse), a file name without one of `suffixes`, a path under a file, or a
    folder where no file can be created (read-only, no permission)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{name} must be a path, got {path!r}")
    path = Path(path)
    if kind == "file" and suffixes and path.suffix not in suffixes:
        raise ValueError(f"{name} must end in {' or '.join(suffixes)}, got {str(path)!r}")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a file; expected a folder")
    if kind == "file" and path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; expected a file path")
    parent = path if kind == "dir" else path.parent
    existing = parent.resolve()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} {str(path)!r} is under {str(existing)!r}, which is a file")
    try:  # os.access is not enough: root ignores permission bits but not a read-only file system
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise ValueError(f"{name} {str(path)!r} cannot be written: {existing} is not writable "
                         f"({error.strerror or error})") from None
    return path


@contextlib.contextmanager
def writing(path):
    """Name `path` in the error of a failed write (a full disk says only "No space left on device", torch.save raises
    a RuntimeError about its zip writer and a video writer about its pipe): an OSError "cannot write PATH: reason"."""
    try:
        yield
    except (OSError, RuntimeError) as error:
        reason = getattr(error, "strerror", None) or " ".join(str(error).split())[:200] or type(error).__name__
        raise OSError(getattr(error, "errno", None), f"cannot write {path}: {reason}") from None


def check_device(name: str, device):
    """None (the best available), or a cpu / cuda[:N] / mps device that this machine has."""
    import torch

    if device is None:
        return None
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name} must be cpu, cuda, cuda:N or mps, got {device!r}") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if device.type not in available:
        raise ValueError(f"{name} must be cpu, cuda, cuda:N or mps, got {str(device)!r}")
    if not available[device.type]:
        raise ValueError(f"{name} {str(device)!r} is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{name} must be cuda:N with N < {torch.cuda.device_count()}, got {str(device)!r}")
    return device
