"""Benchmarks — the conditioning race (`minivdt bench conditioning`, lesson 6): token concatenation vs adaLN vs
cross-attention, each trained with the bundled recipe for the same process CPU seconds, seed and clips.

The race is three arms of the recipe study (`bench recipe`: concat is its base arm "x0-high_noise"), so it shares
the study's runs folder, its scores (sampled position error, lost balls, one-shot x̂₀ error, context swap) and its
resumability. The section tables each mode's sampled error at every scored point, so that whether one mode leads
all the way (the paper's claim: concat converges fastest) can be read from it."""

from __future__ import annotations

from ...metrics import to_jsonable
from ...model import count_flops, get_config
from .common import QUICK_MODEL, md_stamp, md_table, publish, render_files, set_threads, stamp
from .recipe import ARMS
from .study import run_study, summarize

# cond_mode -> the recipe arm that trains it
RACE = {"concat": "x0-high_noise", "adaln": "x0-high_noise-adaln", "cross_attn": "x0-high_noise-cross_attn"}


def conditioning_section(results: list[dict], quick: bool = False, model_overrides: dict | None = None) -> dict:
    """The race as lesson 6 reads it: per mode its curve, steps, GFLOPs and final scores."""
    table = {arm: ARMS[arm] for arm in RACE.values()}
    summary = summarize(results, table)
    curves, modes = {}, {}
    for mode, arm in RACE.items():
        if arm not in summary["curves"]:
            continue
        row = next(r for r in summary["rows"] if r["arm"] == arm)
        config = get_config("cpu-tiny", **{**ARMS[arm].get("model_overrides", {}), **(model_overrides or {})})
        curves[mode] = summary["curves"][arm]
        modes[mode] = dict(arm=arm, steps=row["steps"], budget_cpu_s=row["budget_cpu_s"], seeds=row["seeds"],
                           gflops=round(count_flops(config) / 1e9, 3), final=row)
    return to_jsonable(dict(section="conditioning", quick=quick, curves=curves, modes=modes))


def render(c: dict, page) -> str:
    """BENCHMARKS.md's conditioning section."""
    lines = ["## Conditioning race (lesson 6)", ""] + md_stamp(c)
    lines += ["Each mode is an arm of the recipe study (the bundled recipe; only `cond_mode` changes), trained for the "
              "same process CPU seconds and scored on the same validation clips at evenly spaced points of the "
              "budget.", ""]
    rows = [[m, f"{d['gflops']:.3f}", d["steps"], f"{d['final']['mean_position_error']:.2f}",
             " / ".join(f"{p['sampled']:.2f}" for p in c["curves"][m]), f"{d['final']['lost']:.2f}",
             f"{d['final']['x0_error_T']:.2f}", f"{d['final']['context_sensitivity']:+.2f}"]
            for m, d in c["modes"].items()]
    lines += md_table(["cond_mode", "GFLOPs/clip", "steps", "sampled px", "sampled px at each scored point", "lost",
                       "x̂₀@T px", "swap px"], rows) + [""]
    return "\n".join(lines)


def main(args) -> dict:
    """`minivdt bench conditioning`: runs the missing race arms, writes conditioning.json and its section."""
    set_threads(args)
    results = run_study(args, list(RACE.values()), ARMS, 2.0 if args.quick else args.budget_s)
    section = {**conditioning_section(results, args.quick, QUICK_MODEL if args.quick else None),
               "num_val_per_scenario": 1 if args.quick else args.num_val, **stamp()}
    return publish("conditioning", section, render, args)


def rerender(args):
    """`minivdt bench report`: the section again from conditioning.json."""
    render_files(("conditioning",), render, args)
