"""Benchmarks — BENCHMARKS.md, written from the quality and speed results (either may be missing); each section
records the machine, the date and the exact command that produced it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...diffusion import DEFAULT_SAMPLER, DEFAULT_STEPS
from ...model import PRESETS
from .common import CNN_NAME, VDT_NAME


def _md_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _md_stamp(section) -> list[str]:
    m = section["machine"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    simd = f", {m['simd']}" if "simd" in m else ""
    return [f"Measured {section['date']} on {m['cpu']} ({m['cores']} cores{simd}, {m['threads']} torch threads{gpu}), "
            f"torch {m['torch']}, Python {m['python']}." + (" **Quick mode: the numbers mean nothing.**"
                                                             if section.get("quick") else ""),
            "", f"Command: `{section['command']}`", ""]


def recipe_verdict(rows: list[dict], ignores_context_px: float = 0.1) -> list[str]:
    """What the recipe table says, computed from it: the best arm by each score, and the arms whose one-shot x̂₀
    hardly moves when the context is swapped (they have not learned to read the given frames)."""
    if len(rows) < 2:  # nothing to compare yet
        return []
    best = lambda key: min(rows, key=lambda a: a[key])  # noqa: E731
    lines = [f"- Lowest sampled error: **{best('mean_position_error')['arm']}** "
             f"({best('mean_position_error')['mean_position_error']:.2f} px); lowest one-shot x̂₀ error at t = T-1: "
             f"**{best('x0_error_T')['arm']}** ({best('x0_error_T')['x0_error_T']:.2f} px)."]
    reference = next((a for a in rows if a["arm"] == "regressor"), None)
    diffusion = [a for a in rows if a["arm"] != "regressor"]
    if reference and diffusion:
        arm = min(diffusion, key=lambda a: a["x0_error_T"])
        lines.append(f"- Reference: the same backbone as a plain regressor (x₀ target at t = T-1 only, forward "
                     f"prediction only) reaches {reference['x0_error_T']:.2f} px one-shot in the same CPU seconds, "
                     f"against {arm['x0_error_T']:.2f} px for {arm['arm']}, which also learns all seven tasks "
                     f"({arm['x0_error_T'] / reference['x0_error_T']:.2f}x the regressor's error). The regressor's "
                     "sampled and t = T/2 columns are outside what it was trained for.")
    from .recipe import FACTORS

    by_arm = {a["arm"]: a for a in rows}
    answered = [(question, [by_arm[arm] for arm in arms if arm in by_arm]) for question, arms in FACTORS.items()]
    answered = [(question, arms) for question, arms in answered if len(arms) > 1]
    if answered:
        lines.append("- One thing changed at a time (sampled px; steps in the budget):")
        lines += [f"  - {question}: " + ", ".join(f"{a['arm']} {a['mean_position_error']:.2f} ({a['steps']})"
                                                  for a in arms) for question, arms in answered]
    blind = [a["arm"] for a in rows if a["context_sensitivity"] < ignores_context_px]
    if blind:
        lines.append(f"- Context swap moves x̂₀ by less than {ignores_context_px} px (the given frames are not read yet): "
                     + ", ".join(blind) + ".")
    return lines


def _shown(where: str, md_path) -> str:
    """A path as BENCHMARKS.md shows it: relative to the file's folder (the repository) when it lies inside it,
    so that the page does not carry the measuring machine's folders."""
    if not Path(where).is_absolute():
        return where  # already relative, or not a path ("argument")
    try:
        return str(Path(where).resolve().relative_to(Path(md_path).resolve().parent))
    except ValueError:  # outside the repository
        return where


def paired_word(p: dict, z: float = 2.0) -> str:
    """A paired row's verdict against its reference: "better" or "worse" by more than `z` paired standard errors,
    else "within" (clip-to-clip noise)."""
    return "better" if p["difference"] < -z * p["se"] else "worse" if p["difference"] > z * p["se"] else "within"


def paired_verdict(paired: list[dict], z: float = 2.0) -> list[str]:
    """Which arms differ from the reference by more than `z` paired standard errors, task by task; the rest are
    within clip-to-clip noise of it."""
    lines = []
    for task in dict.fromkeys(p.get("task", "predict") for p in paired):
        rows = [p for p in paired if p.get("task", "predict") == task]
        groups = {w: [p for p in rows if paired_word(p, z) == w] for w in ("better", "worse", "within")}
        parts = [f"{word} by more than {z:g} SE: " + ", ".join(f"{p['arm']} ({p['difference']:+.2f} px)" for p in ps)
                 for word, ps in groups.items() if ps and word != "within"]
        if groups["within"]:
            parts.append(f"within {z:g} SE (not told apart on these clips): "
                         + ", ".join(p["arm"] for p in groups["within"]))
        lines.append(f"- {task}, against {rows[0]['reference']}: " + "; ".join(parts) + ".")
    return lines


def final_blocks(sections: dict) -> list[str]:
    """The names of the final comparison's blocks among `sections` (recipe_final_BLOCK: runs made on another host,
    the base arm rerun beside them), in name order."""
    return sorted(n for n in sections if n.startswith("recipe_final_"))


def finished_in_blocks(final: dict, blocks) -> dict:
    """{arm: block name} for the arms `final` left unfinished that one of `blocks` finished."""
    return {a: b["block"] for b in blocks for a in (final.get("unfinished") or {})
            if a in {row["arm"] for row in b["rows"]}}


def recipe_markdown(r: dict, path, has_final: bool = False, blocks=()) -> list[str]:
    """The recipe screen (every arm, one seed), the final comparison (the close arms, several seeds, more clips) or
    a block of it (runs made on another host, with the base arm rerun beside them); has_final: whether
    BENCHMARKS.md also has the final comparison (the screen then points to it); blocks: the final comparison's
    blocks, which may finish arms left unfinished in it."""
    final = r["section"].startswith("recipe_final")
    title = ("Recipe study (which training recipe learns physics on a CPU budget)" if not final
             else f"Recipe study, final comparison: block {r['block']} (on one host, the base arm rerun)"
             if r.get("block") else "Recipe study, final comparison (the arms the screen left close)")
    lines = [f"## {title}", ""] + _md_stamp(r)
    if r.get("block"):
        lines += ["The arms left unfinished in the final comparison above were finished on another host, where a "
                  "CPU second is different work, so the base arm ran again there beside them with the same seeds, "
                  "and each arm is paired only against this block's base arm. Every run of this block ran on the "
                  "machine stamped above.", ""]
    lines += [f"Every arm changes one thing of the base recipe {r['base']} and trains the cpu-tiny VDT for the "
              f"same process CPU seconds on the same clips and seed. Scored on {r['num_val_per_scenario']} "
              "validation clips per scenario (drop, projectile, roll, collide): position error of sampled "
              "futures, balls lost, one-shot x̂₀ error at t = T-1 and T/2, and how much the x̂₀ error at "
              "t = T-1 rises when the given frames are another clip's (0 = the context is ignored). "
              + ("The steps column says how many updates each arm got." if r.get("block") else
                 "Arms ran in different sessions, and this machine's host has changed between sessions (EPYCs with "
                 "and without AVX-512, and an Intel Xeon with AMX, have been seen), so a CPU second is not always "
                 "the same work: the steps column says how many updates each arm got."), ""]
    rows = [[a["arm"], len(a["seeds"]), f"{a['budget_cpu_s']:.0f}", a["steps"], f"{a['mean_position_error']:.2f}",
             " / ".join(f"{v:.2f}" for v in a["position_error"].values()), f"{a['lost']:.2f}",
             f"{a['x0_error_T']:.2f}", f"{a['x0_error_half']:.2f}", f"{a['context_sensitivity']:+.2f}"]
            for a in r["rows"]]
    lines += _md_table(["arm", "seeds", "CPU s", "steps", "sampled px", "drop / proj / roll / collide", "lost",
                        "x̂₀@T px", "x̂₀@T/2 px", "swap px"], rows) + [""]
    lines += recipe_verdict(r["rows"])
    tasks = sorted({task for a in r["rows"] for task in a.get("other_tasks", {})})
    if tasks:
        lines += ["", "The other whole-frame tasks at the end of the budget (sampled position error px of the "
                  "generated frames; backward: the last 8 frames given, interpolate: 4 at each end):", ""]
        lines += _md_table(["arm", "predict px"] + [f"{t} px" for t in tasks],
                           [[a["arm"], f"{a['mean_position_error']:.2f}"]
                            + [f"{a['other_tasks'][t]:.2f}" if t in a.get("other_tasks", {}) else "not measured"
                               for t in tasks] for a in r["rows"]]) + [""]
    if r.get("paired"):
        lines += ["", f"Paired against {r['paired'][0]['reference']} on the same validation clips (each clip's "
                  "sampled error averaged over the seeds both ran; negative = the arm is better; SE = paired "
                  "standard error over clips):", ""]
        lines += _md_table(["arm", "task", "seeds", "clips", "Δ sampled px", "paired SE", "|Δ| / SE"],
                           [[p["arm"], p.get("task", "predict"), " ".join(map(str, p["seeds"])), p["clips"],
                             f"{p['difference']:+.2f}", f"{p['se']:.2f}",
                             f"{abs(p['difference']) / p['se']:.1f}" if p["se"] > 0 else "n/a"]
                            for p in r["paired"]]) + [""]
        lines += paired_verdict(r["paired"])
    if r.get("unfinished"):
        elsewhere = finished_in_blocks(r, blocks)
        lines.append(f"- Not finished yet, so not in the tables (seeds done of {len(r['seeds'])}): "
                     + ", ".join(f"{a} ({n}" + (f"; finished in block {elsewhere[a]} below" if a in elsewhere else "")
                                 + ")" for a, n in r["unfinished"].items()) + ".")
    if not final:
        missing = [a for a in r.get("arms", {}) if a not in {row["arm"] for row in r["rows"]}
                   and a not in r.get("unfinished", {})]
        seeds = sorted({len(row["seeds"]) for row in r["rows"]})
        lines.append("- " + (f"Not run yet: {', '.join(missing)}. " if missing else "")
                     + f"The arms above ran with {' or '.join(map(str, seeds))} seed(s) on "
                     f"{r['num_val_per_scenario']} validation clips per scenario: a screen, not a final comparison "
                     "with standard errors ("
                     + ("the next section reruns the close arms)." if has_final else
                        "the final comparison of the close arms, `--stage final`, has not run yet)."))
    lines += [""]
    if r.get("plot"):
        lines += [f"![recipe curves]({os.path.relpath(r['plot'], Path(path).resolve().parent)})", ""]
    return [line for i, line in enumerate(lines) if line or i == 0 or lines[i - 1]]  # no double blank lines


LOST_TARGET, BALL_COUNT_TARGET = 0.03, 0.10  # the targets: lost balls < 3 %, balls per frame within ±10 %


def _trend(steps, values, target, last: int = 6):
    """Least-squares slope of `values` per 1000 steps over the last `last` points, and the steps a straight line
    would need from the last point to reach `target` (None when it is not heading there)."""
    xs, ys = steps[-last:], values[-last:]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-12, sum((x - mx) ** 2 for x in xs))
    gap = target - ys[-1]
    needed = gap / slope if slope and gap * slope > 0 else None
    return slope * 1000, needed


def target_curve_markdown(rows: list[dict]) -> list[str]:
    """assets/target_curve.py's file: the target metrics of every snapshot of the bundled run (validation clips),
    and a straight-line trend over the last snapshots for each target the last snapshot misses."""
    rows = sorted(rows, key=lambda r: r["step"])
    scenarios = list(rows[0]["scenarios"])
    lines = ["### Where the unmet targets stall (every snapshot of the bundled run, validation clips)", "",
             f"Made by `python assets/target_curve.py RUN_DIR assets/benchmarks/target_curve.jsonl`: "
             f"{rows[0]['num_val']} validation clips per scenario, forward prediction with {rows[0]['steps']} "
             f"{rows[0]['sampler'].upper()} step(s); unconditional samples with the library default "
             f"({DEFAULT_SAMPLER.upper()}, {DEFAULT_STEPS} steps) at every snapshot (the quality table uses the sampler "
             "the card chose for them).", ""]
    lines += _md_table(["step", "train h"] + [f"lost {s}" for s in scenarios] + ["contact mixed", "mean px",
                                                                             "uncond. balls/frame"],
                       [[r["step"], f"{r['seconds'] / 3600:.1f}"]
                        + [f"{r['scenarios'][s]['lost_fraction']:.3f}" for s in scenarios]
                        + [f"{r['scenarios']['mixed']['contact_accuracy']:.3f}" if "mixed" in scenarios else "",
                           f"{sum(v['position_error'] for v in r['scenarios'].values()) / len(scenarios):.2f}",
                           f"{r['unconditional']['model']:.2f} (real {r['unconditional']['real']:.2f})"]
                        for r in rows]) + [""]
    steps, last = [r["step"] for r in rows], rows[-1]
    n = min(6, len(rows))
    for s in scenarios:
        lost = [r["scenarios"][s]["lost_fraction"] for r in rows]
        if lost[-1] >= LOST_TARGET and len(rows) > 1:
            slope, needed = _trend(steps, lost, LOST_TARGET, n)
            reach = (f"a straight line would reach {LOST_TARGET:.0%} after about {needed:,.0f} more steps"
                     if needed else f"it is not falling toward {LOST_TARGET:.0%}")
            lines.append(f"- Lost balls on {s}: {lost[-1]:.3f} at step {last['step']}; over the last {n} snapshots "
                         f"{slope:+.4f} per 1000 steps: {reach}.")
    counts = [r["unconditional"]["model"] / r["unconditional"]["real"] for r in rows]
    if abs(counts[-1] - 1) > BALL_COUNT_TARGET and len(rows) > 1:
        slope, needed = _trend(steps, counts, 1 - BALL_COUNT_TARGET, n)
        reach = (f"a straight line would reach {1 - BALL_COUNT_TARGET:.0%} after about {needed:,.0f} more steps"
                 if needed else "it is not rising toward the target")
        lines.append(f"- Unconditional balls per frame: {counts[-1]:.0%} of real clips at step {last['step']}; over "
                     f"the last {n} snapshots {slope:+.3f} per 1000 steps: {reach}.")
    return lines + [""]


def write_benchmarks_md(results: dict, path="BENCHMARKS.md") -> Path:
    """Write BENCHMARKS.md from {"quality": bench_quality(), "speed": bench_speed()} (either may be missing)."""
    lines = ["# minivdt benchmarks", "",
             "Regenerate everything with `minivdt bench all` (writes this file and outputs/bench/*.json); "
             "`minivdt bench quality` or `minivdt bench speed` redo one section.", ""]
    q = results.get("quality")
    if q:
        lines += ["## Prediction quality (8 given frames -> 8 predicted)", ""] + _md_stamp(q)
        steps = q["sampling_steps"]
        cnn = q.get("cnn")
        source = _shown(cnn["budget_source"], path) if cnn else None
        cnn_text = (f"{CNN_NAME}: {cnn['parameters']:,} parameters, trained {cnn['train_seconds']:.0f} s "
                    f"({cnn['steps']} steps; budget {cnn['budget_s']:.0f} s from {source}) on the same "
                    f"{q['num_train_clips']} training clips." if cnn else
                    f"**No {CNN_NAME} in this run** (`--no-cnn`): the equal-budget CNN comparison is not measured.")
        lines += [f"Checkpoint `{_shown(q['checkpoint'], path)}`; {q['num_clips']} test clips per scenario; VDT "
                  f"sampled with "
                  f"{steps} {q.get('sampler', 'ddpm').upper()} step{'s' if steps > 1 else ''}. " + cnn_text, ""]
        rows = [[s, m, f"{r['position_error']:.2f}", " ".join(f"{e:.1f}" for e in r["position_error_per_step"]),
                 f"{r['lost_fraction']:.3f}", f"{r['contact_accuracy']:.2f}", f"{r['psnr']:.1f}", f"{r['ssim']:.3f}"]
                for s, methods in q["results"].items() for m, r in methods.items()]
        lines += _md_table(["scenario", "method", "pos err px", "per step t+1..", "lost", "contact", "PSNR", "SSIM"],
                           rows)
        if q.get("physics"):
            from .physics import physics_markdown
            lines += [""] + physics_markdown(q["physics"])
        lines += ["", "### Targets", ""]
        from .quality import target_verdict
        lines += [f"- {target_verdict(t).replace('NOT met', '**not met**')}: {name} ({t['detail']})"
                  for name, t in q["targets"].items()]
        lines += ["", "### Learning curves (position error on a fixed val subset vs training seconds)", ""]
        curve_rows = [[name, f"{p['seconds']:.0f}", p.get("step", ""), f"{p['position_error']:.2f}"]
                      for name, points in q["learning_curves"].items() for p in points]
        lines += _md_table(["model", "train s", "step", "pos err px"], curve_rows) + [""]
        if VDT_NAME not in q["learning_curves"]:
            lines += ["(No VDT curve: pass `--vdt-curve SECONDS:CHECKPOINT` or `--vdt-run RUN_OR_JSONL`.)", ""]
        if q.get("plot"):
            lines += [f"![learning curves]({os.path.relpath(q['plot'], Path(path).resolve().parent)})", ""]
    if results.get("target_curve"):
        lines += target_curve_markdown(results["target_curve"])
    blocks = final_blocks(results)
    for name in ("recipe", "recipe_final", *blocks):
        if results.get(name):
            lines += recipe_markdown(results[name], path, has_final=bool(results.get("recipe_final")),
                                     blocks=[results[b] for b in blocks] if name == "recipe_final" else ())
    for name, title in (("conditioning", "Conditioning race (lesson 6)"), ("scaling", "Quality against compute (lesson 8)")):
        if results.get(name):
            from importlib import import_module
            markdown = getattr(import_module(f".{name}", __package__), f"{name}_markdown")
            lines += [f"## {title}", ""] + _md_stamp(results[name]) + markdown(results[name])
    if results.get("laptop_gpu"):
        lines += ["## The laptop-gpu preset on a GPU", ""] + laptop_gpu_markdown(results["laptop_gpu"])
    c = results.get("sampler")
    if c:
        from .sampler import sampler_markdown
        lines += ["## Sampler (chosen on validation clips)", ""] + _md_stamp(c) + sampler_markdown(c)
    s = results.get("speed")
    if s:
        lines += ["## Speed", ""] + _md_stamp(s)
        sampler = s.get("sampler", "ddim")  # a speed.json without the field was timed with DDIM
        lines += ["Medians of interleaved repeats after a warm-up. *naive fp32* is the same architecture and weights "
                  "with plain softmax attention (`fused_attn=False`) in fp32; *fast* uses "
                  "`F.scaled_dot_product_attention`, with or without bf16 autocast. A training step is the masked "
                  "diffusion loss forward + backward + AdamW step; sampling is "
                  f"{sampler.upper()} with "
                  f"{s['sizes'][0]['sample_steps'] if s['sizes'] else '?'} steps. FLOP/s counts 3x the analytic "
                  "forward FLOPs (`model.count_flops`, matmuls only), divided by the measured matmul peak of the "
                  "dtype used.", ""]
        lines += ["Measured matmul peak: " + ", ".join(f"{k} {v['flops_per_s'] / 1e9:.1f} GFLOP/s (n={v['n']})"
                                                     for k, v in s["matmul_peak"].items()) + ".", ""]
        rows = [[z["size"], f"{z['parameters'] / 1e6:.2f} M", name, z["train_batch"], f"{r['train_clips_per_s']:.3f}",
                 f"{r['train_speedup']:.2f}x", z["sample_batch"], f"{r['sample_clips_per_s']:.4f}",
                 f"{r['sample_speedup']:.2f}x", f"{r['achieved_flops_per_s'] / 1e9:.1f}",
                 "" if r["fraction_of_peak"] is None else f"{r['fraction_of_peak']:.0%} of {r['peak_dtype']}"]
                for z in s["sizes"] for name, r in z["variants"].items()]
        lines += _md_table(["size", "params", "variant", "train batch", "train clips/s", "vs naive", "sample batch",
                            "sample clips/s", "vs naive", "train GFLOP/s", "of peak"], rows) + [""]
        if s["memory"]:
            lines += ["Peak memory of a training step (two steps from a fresh optimizer; " +
                      s["memory"][0]["method"] + "):", ""]
            lines += _md_table(["size", "dtype", "batch", "peak MiB"],
                               [[m["size"], "bf16 autocast" if m["bf16"] else "fp32", m["batch"],
                                 "n/a" if m["step_peak_mib"] is None else f"{m['step_peak_mib']:.0f}"]
                                for m in s["memory"]]) + [""]
        t = s.get("cpu_threads")
        if t:
            lines += [f"The bundled model's training step ({t['size']}, x₀ target, batch {t['batch']}) by torch threads "
                      "and precision (medians of interleaved repeats); the last column is training steps per second "
                      "per core, which decides whether one run should use every core or each core should run its "
                      "own one-thread job:", ""]
            lines += _md_table(["threads", "fp32 s/step", "bf16 autocast s/step", "bf16 / fp32", "fp32 steps/s per core"],
                               [[r["threads"], f"{r['fp32_step_s']:.3f}", f"{r['bf16_step_s']:.3f}",
                                 f"{r['bf16_step_s'] / r['fp32_step_s']:.1f}x",
                                 f"{_steps_per_core(r):.2f}"] for r in t["rows"]]) + [""]
            lines += speed_verdict(t, s["machine"].get("simd")) + [""]
        f = s["frames"]
        lines += [f"Training-step time vs clip length, {f['size']} fast path fp32, batch {f['batch']}:", ""]
        lines += _md_table(["frames", "attention", "step s", "GFLOP"],
                           [[r["frames"], r["attention_mode"], f"{r['step_s']:.3f}", f"{r['flops'] / 1e9:.1f}"]
                            for r in f["rows"]]) + [""]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path


def _steps_per_core(row: dict) -> float:
    """fp32 training steps per second per core of one bench_threads row."""
    return 1 / (row["fp32_step_s"] * row["threads"])


def speed_verdict(threads: dict, simd: str | None = None) -> list[str]:
    """What the thread/precision table says for the CPU training run, computed from it."""
    rows = threads["rows"]
    per_core = {r["threads"]: _steps_per_core(r) for r in rows}
    best = max(per_core, key=per_core.get)
    slower = min(r["bf16_step_s"] / r["fp32_step_s"] for r in rows)
    lines = [f"- Most fp32 steps per core: **{best} thread(s)** per run ({per_core[best]:.2f} steps/s per core"
             + ", ".join([""] + [f"{n} threads: {v:.2f}" for n, v in per_core.items() if n != best]) + ")."]
    if slower > 1:
        lines.append(f"- bf16 autocast is at least {slower:.1f}x slower than fp32 here"
                     + (f" ({simd}: no bf16 matrix units, so torch emulates bf16)" if simd else "")
                     + "; `mixed_precision=\"auto\"` picks bf16 on a CPU only where `training.cpu_has_bf16()` is true.")
    return lines


LAPTOP_GPU_GIB = 8  # memory of a typical laptop GPU (4-8 GiB)


def laptop_gpu_minutes(run: dict) -> float:
    """A laptop_gpu_check run's training time rounded to half a minute: the runs at one patch size and one such
    length are one point of the table (a rerun replaces it)."""
    return round(run["train_seconds"] / 30) / 2


def laptop_gpu_columns(run: dict) -> dict:
    """The one-step (non-DDPM) columns of a laptop_gpu_check run: "names" in table order, "model" (the laptop-gpu
    column) and "bundled" (the bundled CPU model's, None if not scored), with their errors per scenario in
    "error" and "bundled_error"."""
    names = [n for n in next(iter(run["val"].values())) if "DDPM" not in n]
    model = next(n for n in names if n.startswith("laptop-gpu"))
    bundled = next((n for n in names if n.startswith("bundled")), None)
    errors = lambda name: {s: rows[name]["position_error"] for s, rows in run["val"].items()}  # noqa: E731
    return dict(names=names, model=model, bundled=bundled, error=errors(model),
                bundled_error=errors(bundled) if bundled else None)


def laptop_gpu_markdown(g: dict) -> list[str]:
    """assets/laptop_gpu_check.py's result: memory and speed per patch size, then each short run against the
    baselines (one run per patch size and length; runs from different GPU loans)."""
    runs = g["runs"]
    gpus = sorted({r["gpu"] for r in runs})
    lines = [f"Measured on {' and '.join(gpus)} ({len(runs)} GPU loan(s): "
             f"{', '.join(r['date'] for r in runs)}), {g['mixed_precision']} mixed precision (bf16 on these GPUs), "
             f"batch {g['batch_size']}, hidden {runs[0]['model']['hidden_size']}, depth {runs[0]['model']['depth']}.",
             ""]
    steps = g["preset_max_steps"]
    lines += _md_table(["patch", "tokens per clip", "peak GPU memory", "s per training step", f"{steps} steps take"],
                       [[p["patch_size"], p["tokens_per_clip"], f"{p['peak_memory_gib']:.1f} GiB",
                         f"{p['seconds_per_step']:.3f}", f"{steps * p['seconds_per_step'] / 60:.0f} min"]
                        for p in g["probes"]]) + [""]
    means = {}  # (training minutes, patch size) -> (mean DDIM-1 error of that run over the scenarios, its steps)
    for run in runs:
        columns = laptop_gpu_columns(run)
        names, error = columns["names"], columns["error"]
        lines += [f"### A {run['train_seconds'] / 60:.1f}-minute run at patch {run['model']['patch_size']}", "",
                  f"Command: `{run['command']}` ({run['date']}). {run['steps']} steps in "
                  f"{run['train_seconds']:.0f} s, scored on {run['num_val_per_scenario']} validation clips per "
                  "scenario (position error, px; the bundled model as shipped on that date):", ""]
        lines += _md_table(["scenario"] + names, [[s] + [f"{rows[n]['position_error']:.2f}" for n in names]
                                                  for s, rows in run["val"].items()]) + [""]
        wins = [s for s, rows in run["val"].items()
                if error[s] < min(rows["copy_last_frame"]["position_error"], rows["constant_velocity"]["position_error"])]
        lines += [f"- It beats both copy-last and constant velocity on {len(wins)} of {len(run['val'])} scenarios."]
        if columns["bundled"]:
            below = [s for s in error if error[s] < columns["bundled_error"][s]]
            lines += [f"- It is below the bundled CPU model ({columns['bundled']}) on {len(below)} of "
                      f"{len(run['val'])} scenarios."]
        lines += [""]
        means[laptop_gpu_minutes(run), run["model"]["patch_size"]] = (sum(error.values()) / len(error), run["steps"])
    memory = {p["patch_size"]: p["peak_memory_gib"] for p in g["probes"]}
    preset = PRESETS[g["preset"]].patch_size
    for minutes in sorted({m for m, _ in means}):
        same = {p: v for (m, p), v in means.items() if m == minutes}  # patch -> (mean error, steps)
        if len(same) < 2:
            continue
        lines += [f"- Mean DDIM-1 error over the scenarios after the same {minutes:g} minutes: "
                  + ", ".join(f"patch {p} {same[p][0]:.2f} px ({same[p][1]} steps)" for p in sorted(same)) + ".", ""]
        best = min(same, key=lambda p: same[p][0])
        if best != preset and memory.get(best, 0) > LAPTOP_GPU_GIB:
            lines += [f"- Patch {best} did better after the same minutes here, but its training step needs "
                      f"{memory[best]:.1f} GiB, more than the {LAPTOP_GPU_GIB} GiB of a typical laptop GPU: the "
                      f"preset keeps patch {preset} ({memory.get(preset, float('nan')):.1f} GiB).", ""]
    at_preset = sorted((m, e) for (m, p), (e, _) in means.items() if p == preset)
    if len(at_preset) > 1:
        falls = all(later < earlier for (_, earlier), (_, later) in zip(at_preset, at_preset[1:]))
        lines += [f"- At the preset's patch {preset}, the mean DDIM-1 error "
                  f"{'falls' if falls else 'does not fall steadily'} with training time: "
                  + ", ".join(f"{e:.2f} px after {m:g} min" for m, e in at_preset) + ".", ""]
    return lines


def load_sections(out_dir) -> dict:
    """Previously written sections (so `bench speed` keeps the quality section of BENCHMARKS.md, and back)."""
    sections = {}
    blocks = [p.stem for p in sorted(Path(out_dir).glob("recipe_final_*.json"))]  # the final comparison's blocks
    for name in ("quality", "recipe", "recipe_final", *blocks, "conditioning", "scaling", "laptop_gpu", "sampler",
                 "speed"):
        path = Path(out_dir) / f"{name}.json"
        if path.is_file():
            sections[name] = json.loads(path.read_text())
    curve = Path(out_dir) / "target_curve.jsonl"  # assets/target_curve.py, one line per snapshot
    if curve.is_file():
        sections["target_curve"] = [json.loads(line) for line in curve.read_text().splitlines() if line.strip()]
    return sections
