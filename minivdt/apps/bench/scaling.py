"""Benchmarks — quality against compute (`minivdt bench scaling`, lesson 8): does sample quality follow a model's
GFLOPs, whichever knob (width, depth, patch size) produced them, as DiT found and VDT confirms for video?

Every size trains with the bundled recipe (study.BASE) for the same number of optimizer steps on the
same clips and seed, as DiT compares its models, and is scored at a few points on the recipe study's validation
clips. The verdict is computed from the data: the rank correlation between GFLOPs and error, and whether two sizes
of nearly equal GFLOPs reached by different knobs land close together."""

from __future__ import annotations

import numpy as np

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


def ranks(values) -> np.ndarray:
    """Ranks 0..n-1, ties sharing their mean rank (two models both at the error cap rank equal)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    result[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        result[tied] = result[tied].mean()
    return result


def rank_correlation(x, y) -> float:
    """Spearman's rank correlation: +1 when y rises with x, -1 when it falls; nan when either is constant."""
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def scaling_verdict(rows: list[dict], key: str = "mean_position_error") -> dict:
    """Rank correlation of GFLOPs with the final `key` (negative: more compute, lower error), and the pair of sizes
    with the closest GFLOPs, with their errors (the claim predicts they land close together)."""
    gflops = [r["gflops"] for r in rows]
    errors = [r[key] for r in rows]
    verdict = dict(score=key, spearman=rank_correlation(gflops, errors))
    pairs = [(a, b) for i, a in enumerate(rows) for b in rows[i + 1:]]
    if pairs:
        a, b = min(pairs, key=lambda ab: abs(np.log(ab[0]["gflops"] / ab[1]["gflops"])))
        verdict["closest_pair"] = [dict(size=r["size"], gflops=r["gflops"], error=r[key]) for r in (a, b)]
    return verdict


def size_table(model_overrides: dict | None = None) -> dict:
    """SIZES as recipe-study arms {name: {"model_overrides": ...}}, each shrunk by model_overrides (--quick)."""
    return {name: dict(model_overrides={**overrides, **(model_overrides or {})}) for name, overrides in SIZES.items()}


def scaling_section(results: list[dict], quick: bool = False, model_overrides: dict | None = None) -> dict:
    """Per size: GFLOPs, parameters, its curve (error against step) and final scores; the verdicts."""
    table = size_table(model_overrides)
    summary = summarize(results, table)
    rows = []
    for row in summary["rows"]:
        config = get_config("cpu-tiny", **table[row["arm"]]["model_overrides"])
        rows.append(dict(size=row["arm"], gflops=round(count_flops(config) / 1e9, 4), tokens_per_frame=config.tokens_per_frame,
                         **{k: row[k] for k in ("steps", "mean_position_error", "lost", "x0_error_T", "x0_error_half",
                                                "context_sensitivity", "position_error")},
                         cpu_s=summary["curves"][row["arm"]][-1]["cpu_s"]))
    verdicts = ({key: scaling_verdict(rows, key) for key in ("mean_position_error", "x0_error_T")}
                if len(rows) >= 3 else None)
    return to_jsonable(dict(section="scaling", quick=quick, sizes=SIZES, rows=rows,
                            curves={r["size"]: summary["curves"][r["size"]] for r in rows}, verdicts=verdicts))


def render(s: dict, page) -> str:
    """BENCHMARKS.md's scaling section."""
    lines = ["## Quality against compute (lesson 8)", ""] + md_stamp(s)
    lines += [f"Each size trains with the bundled recipe for {s['budget_steps']} steps on the same clips and seed "
              f"and is scored on {s['num_val_per_scenario']} validation clips per scenario.", ""]
    lines += md_table(["size", "tokens/frame", "GFLOPs/clip", "CPU s", "sampled px", "lost", "x̂₀@T px", "swap px"],
                      [[r["size"], r["tokens_per_frame"], f"{r['gflops']:.3f}", f"{r['cpu_s']:.0f}",
                        f"{r['mean_position_error']:.2f}", f"{r['lost']:.2f}", f"{r['x0_error_T']:.2f}",
                        f"{r['context_sensitivity']:+.2f}"] for r in s["rows"]]) + [""]
    for key, v in (s.get("verdicts") or {}).items():
        a, b = v["closest_pair"]
        rho = ("undefined (every size scored the same)" if np.isnan(v["spearman"]) else
               f"{v['spearman']:+.2f} (−1: every step up in compute lowered the error)")
        label = {"mean_position_error": "Sampled error", "x0_error_T": "One-shot x̂₀ error at t = T-1"}.get(key, key)
        lines.append(f"- {label}: rank correlation with GFLOPs {rho}; closest GFLOPs: {a['size']} {a['gflops']:.3f} → "
                     f"{a['error']:.2f} px vs {b['size']} {b['gflops']:.3f} → {b['error']:.2f} px.")
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
