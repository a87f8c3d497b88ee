"""Benchmarks — what every benchmark shares: the machine stamp every result carries, JSON files, threads, and the
fixed evaluation subset that learning curves and the conditioning race score on."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from ...data import split_seeds
from ...metrics import evaluate
from ...world import SCENARIOS, make_clips

VDT_NAME, CNN_NAME = "VDT", "SimVP-CNN"
# --quick: every model shrunk to this (labels keep the preset name; the numbers only prove the code runs)
QUICK_MODEL = dict(hidden_size=32, depth=1, num_heads=2)


def machine_info() -> dict:
    """CPU model (from /proc/cpuinfo), cores, torch version and threads, and the GPU if any."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    info = dict(cpu=cpu, cores=os.cpu_count(), torch=torch.__version__, threads=torch.get_num_threads(),
                python=platform.python_version(), simd=torch.backends.cpu.get_cpu_capability())  # e.g. AVX2, AVX512
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def stamp() -> dict:
    return dict(machine=machine_info(), date=datetime.datetime.now().isoformat(timespec="seconds"),
                command=shlex.join(["minivdt", *sys.argv[1:]]) if _is_minivdt(sys.argv[0])
                else shlex.join([Path(sys.executable).name, *sys.argv]))


def _is_minivdt(program: str) -> bool:
    """The `minivdt` entry point, or `python -m minivdt.apps.cli` (the same command)."""
    path = Path(program)
    return path.name == "minivdt" or path.parts[-3:] == ("minivdt", "apps", "cli.py")


def write_json(data, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def set_threads(args):
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be a positive int, got {args.threads}")
        torch.set_num_threads(args.threads)


def eval_subset(num_per_scenario=4, config=None, scenarios=SCENARIOS):
    """The small fixed learning-curve subset: the first clips of the *val* split (the test split stays unseen)."""
    return {s: make_clips(s, split_seeds("val", num_per_scenario), config) for s in scenarios}


def mean_position_error(predict_fn, subset, num_given=8) -> float:
    """Position error (px) averaged over the future steps and over the scenarios of `subset`."""
    return float(np.mean([evaluate(predict_fn, clips, num_given)["position_error"] for clips in subset.values()]))
