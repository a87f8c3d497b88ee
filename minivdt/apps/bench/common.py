"""Benchmarks — what every benchmark shares: the machine stamp every result carries, its JSON and markdown files,
threads, markdown tables, the learning-curve plot, and the fixed evaluation subset that learning curves score on."""

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
from . import report

VDT_NAME, CNN_NAME = "VDT", "SimVP-CNN"
TRIVIAL = ("copy_last_frame", "constant_velocity")  # the training-free baselines a model of physics must beat
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


def set_threads(args):
    if args.threads is not None:
        torch.set_num_threads(args.threads)


def publish(name: str, data: dict, render, args) -> dict:
    """Write a benchmark's result as <args.out>/<name>.json and its section, render(data, page), as <name>.md beside
    it; then BENCHMARKS.md (args.md) from every section in args.out."""
    text = render(data, args.md)
    print(text)
    path = Path(args.out) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    print(f"wrote {path}")
    print(f"wrote {write_section(name, text, args.out)}")
    print(f"wrote {report.write_page(args.out, args.md)}")
    return data


def write_section(name: str, markdown: str, out) -> Path:
    path = Path(out) / f"{name}.md"
    path.write_text(markdown)
    return path


def render_files(names, render, args):
    """`minivdt bench report`: each section of `names` whose JSON is in args.out rendered again, nothing measured."""
    for name in names:
        path = Path(args.out) / f"{name}.json"
        if path.is_file():
            print(f"wrote {write_section(name, render(json.loads(path.read_text()), args.md), args.out)}")


def md_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def md_stamp(section) -> list[str]:
    """Where, when and by which command a section was measured."""
    m = section["machine"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    simd = f", {m['simd']}" if "simd" in m else ""
    return [f"Measured {section['date']} on {m['cpu']} ({m['cores']} cores{simd}, {m['threads']} torch threads{gpu}), "
            f"torch {m['torch']}, Python {m['python']}." + (" **Quick mode: the numbers mean nothing.**"
                                                             if section.get("quick") else ""),
            "", f"Command: `{section['command']}`", ""]


def markdown(lines: list[str]) -> str:
    """A section's lines as text, without double blank lines."""
    return "\n".join(line for i, line in enumerate(lines) if line or i == 0 or lines[i - 1])


def shown(where: str, page) -> str:
    """A path as BENCHMARKS.md (`page`) shows it: relative to the page's folder (the repository) when it lies
    inside it, so that the page does not carry the measuring machine's folders."""
    if not Path(where).is_absolute():
        return where  # already relative, or not a path ("argument")
    try:
        return str(Path(where).resolve().relative_to(Path(page).resolve().parent))
    except ValueError:  # outside the repository
        return where


def plot_curves(path, panels: dict, xlabel: str, ylabel: str) -> Path:
    """A PNG of learning curves, one panel per {title: {label: (xs, ys)}} side by side on a shared y axis; a label
    keeps its colour in every panel, and the first panel's legend names them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), sharey=True, squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items()):
        for i, (label, (xs, ys)) in enumerate(lines.items()):
            ax.plot(xs, ys, "o-", color=f"C{i % 10}", label=label)
        ax.set(title=title, xlabel=xlabel)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def eval_subset(num_per_scenario=4, config=None, scenarios=SCENARIOS):
    """The small fixed learning-curve subset: the first clips of the *val* split (the test split stays unseen)."""
    return {s: make_clips(s, split_seeds("val", num_per_scenario), config) for s in scenarios}


def mean_position_error(predict_fn, subset, num_given=8) -> float:
    """Position error (px) averaged over the future steps and over the scenarios of `subset`."""
    return float(np.mean([evaluate(predict_fn, clips, num_given)["position_error"] for clips in subset.values()]))
