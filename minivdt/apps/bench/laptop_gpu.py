"""Benchmarks — the laptop-gpu preset on a GPU: `assets/laptop_gpu_check.py` measures it on a GPU (memory and speed
per patch size, then short training runs scored against the baselines and the bundled CPU model) and writes
laptop_gpu.json; this module renders its section of BENCHMARKS.md (`minivdt bench report`)."""

from __future__ import annotations

from ...model import PRESETS
from .common import TRIVIAL, md_table, render_files


def render(g: dict, page) -> str:
    """BENCHMARKS.md's laptop-gpu section: memory and speed per patch size, then every short run's mean one-step
    error against the baselines and the bundled CPU model."""
    runs, steps, preset = g["runs"], g["preset_max_steps"], PRESETS[g["preset"]]
    num_val = " or ".join(sorted({str(r["num_val_per_scenario"]) for r in runs}))
    lines = ["## The laptop-gpu preset on a GPU", "",
             f"Measured on {' and '.join(sorted({r['gpu'] for r in runs}))}, {g['mixed_precision']} mixed precision "
             f"(bf16 on these GPUs), batch {g['batch_size']}, hidden {runs[0]['model']['hidden_size']}, depth "
             f"{runs[0]['model']['depth']}; the preset's patch is {preset.patch_size}. Made by "
             f"`assets/laptop_gpu_check.py`, one run per GPU session, each scored on "
             f"{num_val} validation clips per scenario.", ""]
    lines += md_table(["patch", "tokens per clip", "peak GPU memory", "s per training step", f"{steps} steps take"],
                      [[p["patch_size"], p["tokens_per_clip"], f"{p['peak_memory_gib']:.1f} GiB",
                        f"{p['seconds_per_step']:.3f}", f"{steps * p['seconds_per_step'] / 60:.0f} min"]
                       for p in g["probes"]]) + [""]
    summary = []
    for run in runs:
        names = [n for n in next(iter(run["val"].values())) if "DDPM" not in n]  # the one-step columns
        model = next(n for n in names if n.startswith("laptop-gpu"))
        bundled = next((n for n in names if n.startswith("bundled")), None)
        mean = lambda n: sum(rows[n]["position_error"] for rows in run["val"].values()) / len(run["val"])  # noqa: E731
        beats = sum(rows[model]["position_error"] < min(rows[m]["position_error"] for m in TRIVIAL)
                    for rows in run["val"].values())
        summary.append([run["model"]["patch_size"], f"{run['train_seconds'] / 60:.1f}", run["steps"],
                        f"{mean(model):.2f}", f"{mean(bundled):.2f}" if bundled else "not scored",
                        f"{beats} of {len(run['val'])}"])
    lines += ["Each run, mean one-step (DDIM-1) position error over the scenarios, px:", ""]
    lines += md_table(["patch", "minutes", "steps", "laptop-gpu px", "bundled CPU model px",
                       "scenarios below copy-last and constant velocity"], summary) + [""]
    return "\n".join(lines)


def rerender(args):
    """`minivdt bench report`: the section again from laptop_gpu.json."""
    render_files(("laptop_gpu",), render, args)
