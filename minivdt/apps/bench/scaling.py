"""Benchmarks — quality against compute (`minivdt bench scaling`, lesson 8): does sample quality follow a model's
GFLOPs, whichever knob (width, depth, patch size) produced them, as DiT found and VDT confirms for video?

Every size trains with the bundled recipe (study.BASE) for the same number of optimizer steps on the
same clips and seed, as DiT compares its models, and is scored at a few points on the recipe study's validation
clips. The section's table is in order of GFLOPs, so the trend reads down its columns; two of the sizes reach nearly
equal GFLOPs by different knobs (the claim predicts they land close together). Lesson 8 fits and ranks the results."""

from __future__ import annotations

from ...metrics import to_jsonable
from ...model import count_flops, get_config
from .common import QUICK_MODEL, md_stamp, md_table, publish, render_files, set_threads, stamp
from .study import run_study, summarize

# name -> overrides of the cpu-tiny preset (hidden 128, depth 4, patch 8, 4 heads); head width 16-32
SIZES = {
    "D64-d2-p8": dict(hidden_size=64, depth=2, num_heads=4),
    "D128-d2-p8": dict(depth=2),
    "D64-d2-p4": dict(hidden_size=64, depth=2, num_heads=4, patch_size=4),
    "D128-d4-p8": dict(),
    "D192-d4-p8": dict(hidden_size=192, num_heads=6),
}


def size_table(model_overrides: dict | None = None) -> dict:
    """SIZES as recipe-study arms {name: {"model_overrides": ...}}, each shrunk by model_overrides (--quick)."""
    return {name: dict(model_overrides={**overrides, **(model_overrides or {})}) for name, overrides in SIZES.items()}


def scaling_section(results: list[dict], quick: bool = False, model_overrides: dict | None = None) -> dict:
    """Per size: GFLOPs, tokens per frame, its curve (error against step) and final scores."""
    table = size_table(model_overrides)
    summary = summarize(results, table)
    rows = []
    for row in summary["rows"]:
        config = get_config("cpu-tiny", **table[row["arm"]]["model_overrides"])
        rows.append(dict(size=row["arm"], gflops=round(count_flops(config) / 1e9, 4),
                         tokens_per_frame=config.tokens_per_frame,
                         **{k: row[k] for k in ("steps", "mean_position_error", "lost", "x0_error_T", "x0_error_half",
                                                "context_sensitivity", "position_error")},
                         cpu_s=summary["curves"][row["arm"]][-1]["cpu_s"]))
    return to_jsonable(dict(section="scaling", quick=quick, sizes=SIZES, rows=rows,
                            curves={r["size"]: summary["curves"][r["size"]] for r in rows}))


def render(s: dict, page) -> str:
    """BENCHMARKS.md's scaling section."""
    lines = ["## Quality against compute (lesson 8)", ""] + md_stamp(s)
    lines += [f"Each size trains with the bundled recipe for {s['budget_steps']} steps on the same clips and seed "
              f"and is scored on {s['num_val_per_scenario']} validation clips per scenario.", ""]
    lines += md_table(["size", "tokens/frame", "GFLOPs/clip", "CPU s", "sampled px", "lost", "x̂₀@T px", "swap px"],
                      [[r["size"], r["tokens_per_frame"], f"{r['gflops']:.3f}", f"{r['cpu_s']:.0f}",
                        f"{r['mean_position_error']:.2f}", f"{r['lost']:.2f}", f"{r['x0_error_T']:.2f}",
                        f"{r['context_sensitivity']:+.2f}"] for r in sorted(s["rows"], key=lambda r: r["gflops"])])
    return "\n".join(lines + [""])


def main(args) -> dict:
    """`minivdt bench scaling`: trains the missing sizes, writes scaling.json and its section."""
    set_threads(args)
    steps, shrink = (4, QUICK_MODEL) if args.quick else (args.steps, None)
    results = run_study(args, list(SIZES), size_table(shrink), budget_steps=steps)
    section = {**scaling_section(results, args.quick, shrink), "budget_steps": steps,
               "num_val_per_scenario": 1 if args.quick else args.num_val, **stamp()}
    return publish("scaling", section, render, args)


def rerender(args):
    """`minivdt bench report`: the section again from scaling.json."""
    render_files(("scaling",), render, args)
