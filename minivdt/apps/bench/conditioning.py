"""Benchmarks — the conditioning race (`minivdt bench conditioning`, lesson 6): token concatenation vs adaLN vs
cross-attention, each trained with the bundled recipe for the same process CPU seconds, seed and clips.

The race is three arms of the recipe study (`bench recipe`: concat is its base arm "x0-high_noise"), so it shares
the study's runs folder, its scores (sampled position error, lost balls, one-shot x̂₀ error, context swap) and its
resumability. The verdict on the paper's claim ("concat converges fastest") is computed from the curves."""

from __future__ import annotations

from ...metrics import to_jsonable
from ...model import count_flops, get_config
from .common import QUICK_MODEL, md_stamp, md_table, publish, render_files, set_threads, stamp
from .recipe import ARMS
from .study import BASE, run_study, summarize

# cond_mode -> the recipe arm that trains it
RACE = {"concat": "x0-high_noise", "adaln": "x0-high_noise-adaln", "cross_attn": "x0-high_noise-cross_attn"}


def race_verdict(curves: dict, margin: float = 0.05, cap: float = 8.0) -> dict:
    """Which mode has the lowest sampled position error at each scored point, by how much (relative to the
    runner-up), and the mode that leads by more than `margin` at every *informative* point: one where some mode is
    more than `margin` below the error cap (`cap` px, what a lost ball scores), i.e. has learned something.
    -> {"leader_per_point", "lead_per_point", "informative_from", "lowest_final", "consistent_leader" or None}."""
    names = list(curves)
    num_points = min(len(c) for c in curves.values())
    leaders, leads, informative = [], [], []
    for i in range(num_points):
        errors = {n: curves[n][i]["sampled"] for n in names}
        best = min(errors, key=errors.get)
        runner_up = min(v for n, v in errors.items() if n != best) if len(errors) > 1 else errors[best]
        leaders.append(best)
        leads.append((runner_up - errors[best]) / runner_up if runner_up else 0.0)
        if errors[best] < cap * (1 - margin):
            informative.append(i)
    judged = {leaders[i] for i in informative}
    consistent = (leaders[informative[0]] if informative and len(judged) == 1
                  and min(leads[i] for i in informative) > margin else None)
    return dict(leader_per_point=leaders, lead_per_point=[round(x, 3) for x in leads], lowest_final=leaders[-1],
                informative_from=informative[0] + 1 if informative else None, consistent_leader=consistent,
                margin=margin, cap=cap)


def conditioning_section(results: list[dict], quick: bool = False, model_overrides: dict | None = None) -> dict:
    """The race as lesson 6 reads it: per mode its curve, steps, GFLOPs and final scores, and the verdict."""
    table = {arm: ARMS[arm] for arm in RACE.values()}
    summary = summarize(results, table)
    curves, modes = {}, {}
    for mode, arm in RACE.items():
        if arm not in summary["curves"]:
            continue
        row = next(r for r in summary["rows"] if r["arm"] == arm)
        config = get_config("cpu-tiny", **{**BASE.get("model_overrides", {}), **ARMS[arm].get("model_overrides", {}),
                                           **(model_overrides or {})})
        curves[mode] = summary["curves"][arm]
        modes[mode] = dict(arm=arm, steps=row["steps"], budget_cpu_s=row["budget_cpu_s"], seeds=row["seeds"],
                           gflops=round(count_flops(config) / 1e9, 3), final=row)
    verdict = race_verdict(curves) if len(curves) == len(RACE) else None
    return to_jsonable(dict(section="conditioning", quick=quick, curves=curves, modes=modes, verdict=verdict))


def render(c: dict, page) -> str:
    """BENCHMARKS.md's conditioning section."""
    lines = ["## Conditioning race (lesson 6)", ""] + md_stamp(c)
    lines += ["Each mode is an arm of the recipe study (the bundled recipe; only `cond_mode` changes), trained for the "
              "same process CPU seconds and scored on the same validation clips.", ""]
    rows = [[m, f"{d['gflops']:.3f}", d["steps"], f"{d['final']['mean_position_error']:.2f}",
             f"{d['final']['lost']:.2f}", f"{d['final']['x0_error_T']:.2f}", f"{d['final']['context_sensitivity']:+.2f}"]
            for m, d in c["modes"].items()]
    lines += md_table(["cond_mode", "GFLOPs/clip", "steps", "sampled px", "lost", "x̂₀@T px", "swap px"], rows) + [""]
    v = c.get("verdict")
    if v:
        points = ", ".join(f"{leader} ({lead:.0%})" for leader, lead in zip(v["leader_per_point"], v["lead_per_point"]))
        lines.append(f"- Lowest sampled error at each scored point (lead over the runner-up): {points}.")
        if v["informative_from"] is None:
            lines.append(f"- Every mode is still near the {v['cap']:.0f} px cap: nothing learned, no ranking.")
        elif v["consistent_leader"]:
            lines.append(f"- From point {v['informative_from']} on (the first where a mode is more than "
                         f"{v['margin']:.0%} below the {v['cap']:.0f} px cap), **{v['consistent_leader']}** leads at "
                         f"every point by more than {v['margin']:.0%}.")
        else:
            lines.append(f"- No mode leads at every point from {v['informative_from']} on by more than "
                         f"{v['margin']:.0%}: at this budget the race does not rank the modes.")
        lines.append("")
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
