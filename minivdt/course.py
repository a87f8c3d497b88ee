"""Notebook helpers — what every lesson shares: quick mode, seeding, checks that compare a student's work, and
the bundled assets (the trained model the lessons load, the benchmark results they plot)."""

from __future__ import annotations

import os
import random
from importlib import resources
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "MINIVDT_QUICK"


def _assets_dir() -> Path:
    """The repository's assets/ folder, which an install ships as the package minivdt.assets (pyproject.toml)."""
    try:
        return Path(resources.files("minivdt.assets"))
    except ModuleNotFoundError:  # a source tree on PYTHONPATH, not installed
        return Path(__file__).resolve().parent.parent / "assets"


ASSETS = _assets_dir()
DEFAULT_CHECKPOINT = ASSETS / "vdt-cpu-tiny"


def default_checkpoint() -> Path:
    """The bundled all-task model."""
    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        raise FileNotFoundError(f"the bundled checkpoint is missing from {DEFAULT_CHECKPOINT}; "
                                "pass --checkpoint or reinstall minivdt")
    return DEFAULT_CHECKPOINT


def quick_mode() -> bool:
    """True when MINIVDT_QUICK=1: notebooks pick small sizes and few steps (CI, a first read-through)."""
    return os.environ.get(QUICK_ENV, "0").strip().lower() not in ("", "0", "false", "no")


def pick(quick, full):
    """`quick` in quick mode, else `full` (the size a laptop GPU runs)."""
    return quick if quick_mode() else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, numpy and torch so that numbers shown in a notebook are reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cmp(name: str, mine, ref, atol: float = 1e-5) -> bool:
    """Print whether `mine` equals `ref` exactly, closely (within atol) or not, with the largest difference."""
    mine, ref = torch.as_tensor(np.asarray(mine) if not torch.is_tensor(mine) else mine), \
        torch.as_tensor(np.asarray(ref) if not torch.is_tensor(ref) else ref)
    if mine.shape != ref.shape:
        print(f"{name:<28} shape {tuple(mine.shape)} but expected {tuple(ref.shape)}")
        return False
    diff = (mine.double() - ref.double()).abs().max().item() if mine.numel() else 0.0
    exact, close = diff == 0, diff <= atol
    print(f"{name:<28} exact: {str(exact):5}  close: {str(close):5}  max diff: {diff:.2e}")
    return bool(close)


def check_close(mine, ref, name: str = "your answer", atol: float = 1e-5, hint: str = "") -> None:
    """An exercise check: prints a success line, or raises AssertionError with a hint on a wrong answer."""
    if mine is None:
        raise AssertionError(f"{name} is None: fill in the exercise cell first. {hint}".strip())
    if not cmp(name, mine, ref, atol=atol):
        raise AssertionError(f"{name} does not match the reference. {hint}".strip())
    print(f"Correct: {name} matches.")
