"""Application — `minivdt plot RUN`: a run's learning curves as one PNG.

Training loss and validation loss (the masked diffusion loss on fixed validation clips, logged at every checkpoint)
against optimisation steps and against training seconds, from the run's log.jsonl; with a curve.jsonl beside it
(assets/train_stochastic.py) its sampled validation errors are drawn too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..checkpoints import LOG_FILE, log_entries
from ..checks import check_output

SMOOTH = 20  # log lines in the running mean of the training loss


def plot_run(run_dir, out=None) -> Path:
    """Write RUN/curves.png (or `out`) and return its path; an error if the run has no log lines."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run {str(run_dir)!r} is not an existing folder (a run folder of `minivdt train`)")
    path = run_dir / LOG_FILE
    rows = [row for _, row in log_entries(path)] if path.is_file() else []
    rows = [r for r in rows if isinstance(r, dict) and "step" in r and "loss" in r and "seconds" in r]
    if not rows:
        raise ValueError(f"{path} has no training log lines (step, loss, seconds): train the run first")
    out = check_output("--out", out if out is not None else run_dir / "curves.png", "file")
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must be a .png file, got {str(out)!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, seconds = np.array([r["step"] for r in rows]), np.array([r["seconds"] for r in rows])
    loss = np.array([r["loss"] for r in rows], float)
    smooth = np.convolve(loss, np.ones(SMOOTH) / SMOOTH, mode="valid") if len(loss) >= SMOOTH else loss
    val = [(r["step"], r["seconds"], r["val_loss"]) for r in rows if "val_loss" in r]
    curve = _curve(run_dir / "curve.jsonl")
    fig, axes = plt.subplots(1 + bool(curve), 2, figsize=(10, 3.6 * (1 + bool(curve))), squeeze=False)
    for column, (x, label) in enumerate(((steps, "step"), (seconds / 60, "training minutes"))):
        ax = axes[0, column]
        ax.plot(x, loss, color="0.8", lw=0.8, label="training loss")
        ax.plot(x[len(x) - len(smooth):], smooth, color="C0", label=f"training loss (mean of {SMOOTH})")
        if val:
            vx = [v[0] if column == 0 else v[1] / 60 for v in val]
            ax.plot(vx, [v[2] for v in val], "o-", color="C3", ms=3, label="validation loss")
        ax.set_yscale("log"), ax.set_xlabel(label), ax.set_ylabel("masked diffusion loss"), ax.legend(fontsize=8)
        for key in (curve[0].keys() - {"step", "seconds", "eval_seconds"} if curve else ()):
            if any(word in key for word in ("error", "energy")):
                cx = [c["step"] if column == 0 else c["seconds"] / 60 for c in curve]
                axes[1, column].plot(cx, [c[key] for c in curve], "o-", ms=3, label=key)
        if curve:
            axes[1, column].set_xlabel(label), axes[1, column].set_ylabel("px (validation clips)")
            axes[1, column].legend(fontsize=8)
    fig.suptitle(f"{run_dir.name}: {int(steps[-1])} steps, {seconds[-1] / 60:.1f} training minutes")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _curve(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash
        if isinstance(row, dict) and "step" in row and "seconds" in row:
            rows.append(row)
    return rows
