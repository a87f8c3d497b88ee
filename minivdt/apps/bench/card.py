"""Benchmarks — `minivdt bench card`: the model card (README.md of a model folder) and README.md's results block,
written from the model's training.json and the benchmark JSON files, so that no number in them is typed by hand.
tests/test_cards.py regenerates both and fails when the committed text is stale."""

from __future__ import annotations

from pathlib import Path

from ...cards import read_card
from ...checkpoints import read_json_object
from ...diffusion import SCHEDULERS
from ...model import PRESETS, count_flops
from ...training import load_model
from .common import CNN_NAME, VDT_NAME
from .quality import TRIVIAL
from .report import final_blocks, finished_in_blocks, laptop_gpu_columns, load_sections, paired_word

RESULTS_START, RESULTS_END = "<!-- results: written by `minivdt bench card` -->", "<!-- /results -->"
TIMES_START, TIMES_END = "<!-- lesson times: written by `minivdt bench card` -->", "<!-- /lesson times -->"
TIME_MODES = {"quick": "quick mode (CI)", "cpu": "default on a CPU", "cuda": "default on a GPU"}


def _load(path) -> dict | None:
    path = Path(path)
    return read_json_object(path) if path.is_file() else None


def results_table(quality: dict) -> list[str]:
    """Markdown: per scenario, the VDT's position error and lost balls next to the trivial baselines (and the CNN)."""
    methods = [VDT_NAME, *TRIVIAL] + ([CNN_NAME] if CNN_NAME in next(iter(quality["results"].values())) else [])
    lines = ["| scenario | " + " | ".join(f"{m} px" for m in methods) + f" | {VDT_NAME} lost | VDT beats both trivial |",
             "|---|" + "---|" * (len(methods) + 2)]
    for scenario, r in quality["results"].items():
        wins = all(r[VDT_NAME]["position_error"] < r[m]["position_error"] for m in TRIVIAL)
        lines.append(f"| {scenario} | " + " | ".join(f"{r[m]['position_error']:.2f}" for m in methods) +
                     f" | {r[VDT_NAME]['lost_fraction']:.1%} | {'yes' if wins else 'no'} |")
    return lines


def cnn_line(quality: dict) -> str | None:
    """One sentence on the equal-budget SimVP-CNN, when the quality run has one: a deterministic regressor trained
    on forward prediction alone for the VDT's training time, the stronger baseline the VDT is measured against."""
    cnn = quality.get("cnn")
    results = quality["results"]
    if not cnn or any(CNN_NAME not in r for r in results.values()):
        return None
    error = lambda method: {s: r[method]["position_error"] for s, r in results.items()}  # noqa: E731
    vdt, simvp = error(VDT_NAME), error(CNN_NAME)
    ratios = [vdt[s] / simvp[s] for s in results]
    ahead = sum(simvp[s] < vdt[s] for s in results)
    mean = lambda errors: sum(errors.values()) / len(errors)  # noqa: E731  over the scenarios
    best = (quality.get("physics") or {}).get("best_of_k") or {}
    best8 = [v["8"] for v in best.values() if "8" in v]
    return (f"The {CNN_NAME} baseline, a deterministic regressor trained on forward prediction alone for the same "
            f"{cnn['train_seconds']:.0f} s of CPU as the VDT, is ahead of it on {ahead} of {len(results)} scenarios: "
            f"mean {mean(simvp):.2f} px against the VDT's {mean(vdt):.2f} px (the VDT's error is "
            f"{min(ratios):.1f}–{max(ratios):.1f}× the CNN's"
            + (f"; the best of 8 VDT samples per clip: {sum(best8) / len(best8):.2f} px" if best8 else "") + ").")


def targets_summary(quality: dict) -> list[str]:
    targets = quality["targets"]
    measured = {n: t for n, t in targets.items() if t.get("measured", True)}
    met = [n for n, t in measured.items() if t["met"]]
    missed = [f"{n} ({t['detail']})" for n, t in measured.items() if not t["met"]]
    lines = [f"{len(met)} of {len(measured)} measured targets met ({len(targets) - len(measured)} not measured)."]
    if missed:
        lines += ["", "Not met:", ""] + [f"- {m}" for m in missed]
    return lines


def sampling_line(card: dict, sampler_result: dict | None) -> str:
    choice = card.get("sampling")
    if not choice:
        return "no measured choice: the library default sampler (`minivdt.diffusion.DEFAULT_SAMPLER`)"
    line = f"{choice['sampler'].upper()}, {choice['steps']} step{'s' if choice['steps'] > 1 else ''}"
    if sampler_result:
        rows = ", ".join(f"{r['sampler'].upper()}-{r['steps']} {r['mean_position_error']:.2f}"
                         for r in sampler_result["rows"])
        line += (f", the lowest mean position error on {sampler_result['num_val_per_scenario']} validation clips per "
                 f"scenario (px: {rows}; `minivdt bench sampler`)")
    uncond = choice.get("unconditional")
    if uncond:
        u_steps = uncond["steps"]
        line += (f"; from nothing (unconditional): {uncond['sampler'].upper()}, {u_steps} step{'s' if u_steps > 1 else ''},"
                 " whose samples hold the number of balls per frame closest to real clips")
    return line


def _learning_rates(card: dict, train: dict) -> str:
    phases = card.get("learning_rates") or []
    if len(phases) < 2:
        return f"{train.get('learning_rate')}"
    return ", then ".join(f"{p['lr']:g} (steps {p['from_step']}–{p['to_step']})" for p in phases)


def _task_mixes(card: dict, train: dict) -> str:
    """The task mix, or each mix with its first step when a fine-tune phase changed it."""
    phases = card.get("task_weights") or [{"from_step": 0, "task_weights": train.get("task_weights", {})}]
    mixes = [", ".join(f"{k} {v}" for k, v in sorted(p["task_weights"].items(), key=lambda kv: -kv[1]))
             for p in phases]
    if len(mixes) == 1:
        return mixes[0]
    return "; then ".join(f"{mix} (from step {p['from_step']})" for mix, p in zip(mixes, phases))


def model_card(model_dir, bench_dir, name: str = "vdt-cpu-tiny") -> str:
    """The README.md text of a model folder."""
    model_dir = Path(model_dir)
    card, model = read_card(model_dir), load_model(model_dir)
    cfg, train = model.cfg, card.get("train_config", {})
    quality = _load(Path(bench_dir) / "quality.json")
    sampler_result = _load(Path(bench_dir) / "sampler.json")
    params = sum(p.numel() for p in model.parameters())
    tasks = _task_mixes(card, train)
    lines = [f"# Model card: `{name}` (bundled)", "",
             "The all-task VDT that `minivdt demo`, `minivdt sample` and lessons 5, 7 and 8 load. Every number here "
             "is read from `training.json` and `assets/benchmarks/*.json` by `minivdt bench card`.", "",
             "| | |", "|---|---|",
             f"| architecture | `VDT`, hidden {cfg.hidden_size}, depth {cfg.depth}, {cfg.num_heads} heads, patch "
             f"{cfg.patch_size} ({cfg.tokens_per_frame} tokens per frame), {cfg.num_frames} frames of "
             f"{cfg.height}×{cfg.width}×{cfg.in_channels} pixels, {cfg.attention_mode} attention, adaLN-Zero; "
             f"{params / 1e6:.2f} M parameters, {count_flops(cfg) / 1e9:.2f} GFLOPs per clip forward |",
             f"| conditioning | `cond_mode=\"{cfg.cond_mode}\"` with unified spatio-temporal masks |",
             f"| tasks trained | mix per sample: {tasks} |",
             f"| diffusion | `prediction_type=\"{train.get('prediction_type')}\"`, timesteps "
             f"`{train.get('timestep_sampling')}`, "
             f"loss weighting {train.get('loss_weighting')}; EMA {train.get('ema_decay')} weights |",
             f"| data | {train.get('num_train_clips')} simulated training clips of {', '.join(train.get('scenarios', []))} "
             f"(the `train` split) |",
             f"| optimisation | AdamW, lr {_learning_rates(card, train)} ({train.get('warmup_steps')} warm-up steps), "
             f"batch {train.get('batch_size')}, grad-clip {train.get('grad_clip')}, {train.get('mixed_precision')} "
             f"mixed precision, seed {train.get('seed')} |",
             f"| training | {card.get('steps')} steps, {card.get('train_seconds', 0):.0f} s of training on "
             f"{card.get('machine')} |",
             f"| sampling | {sampling_line(card, sampler_result)} |", "",
             "Reproduce: the phases of `assets/train_bundled.py`'s docstring, one `python assets/train_bundled.py RUN "
             "--steps N ...` each (the learning rates and task mixes of the rows above; one torch thread; resumable: "
             "run it again after an interruption), `minivdt export RUN assets/vdt-cpu-tiny`, `minivdt bench sampler "
             "--checkpoint assets/vdt-cpu-tiny --write-card`, `minivdt bench quality`, then `minivdt bench card`. "
             "Its learning curve: `assets/benchmarks/bundled_run_curve.jsonl` (`assets/bundled_curve.py`).", ""]
    if quality:
        lines += ["## How good it is (`BENCHMARKS.md`)", "",
                  f"{quality['num_clips']} test clips per scenario (never seen in training or in choosing the "
                  f"sampler), mean position error of the {quality['num_given']} predicted frames; measured "
                  f"{quality['date']}.", ""] + results_table(quality) + [""]
        cnn = cnn_line(quality)
        lines += ([cnn, ""] if cnn else []) + targets_summary(quality) + [""]
    return "\n".join(lines)


def readme_results(bench_dir) -> str:
    """README.md's results block (between RESULTS_START and RESULTS_END)."""
    quality = _load(Path(bench_dir) / "quality.json")
    if not quality:
        return "(no quality benchmark yet: run `minivdt bench quality`)"
    sampler = quality.get("sampler", next(iter(SCHEDULERS)))
    steps = quality["sampling_steps"]
    gpu = gpu_line(_load(Path(bench_dir) / "laptop_gpu.json"))
    sections = load_sections(bench_dir)
    blocks = [sections[name] for name in final_blocks(sections)]
    recipe = [recipe_line(sections.get("recipe_final"), blocks=blocks)] + [recipe_line(b) for b in blocks]
    return "\n".join([f"The bundled model on {quality['num_clips']} held-out test clips per scenario "
                      f"({sampler.upper()}, {steps} step{'s' if steps > 1 else ''}; position error in pixels, "
                      f"lower is better; from `assets/benchmarks/quality.json`):", ""] + results_table(quality)
                     + [line for extra in (cnn_line(quality), gpu, *recipe) if extra for line in ("", extra)])


def recipe_line(final: dict | None, z: float = 2.0, blocks=()) -> str | None:
    """One sentence on why the bundled recipe stays: each arm of the recipe study's final comparison
    (recipe_final.json, or one of its blocks: recipe_final_BLOCK.json, runs made on another host with the base arm
    rerun), paired against the bundled recipe task by task, is better, worse or within `z` paired SE. blocks: the
    final comparison's blocks, which may finish its unfinished arms."""
    if not final or not final.get("paired"):
        return None
    arms = list(dict.fromkeys(p["arm"] for p in final["paired"]))
    tasks = list(dict.fromkeys(p["task"] for p in final["paired"]))
    parts, winners = [], []
    for arm in arms:
        rows = [p for p in final["paired"] if p["arm"] == arm]
        by_word = {w: [p for p in rows if paired_word(p, z) == w] for w in ("better", "worse", "within")}
        if len(by_word["better"]) == len(tasks):
            winners.append(arm)
        words = [(f"within {z:g} SE" if w == "within" else w) + " on " + " and ".join(
                 f"{p['task']} ({p['difference']:+.2f} px)" for p in ps) for w, ps in by_word.items() if ps]
        parts.append(f"{arm}: " + ", ".join(words))
    lead = (f"{' and '.join(winners)} beat{'s' if len(winners) == 1 else ''} it by more than {z:g} paired SE on "
            "every task" if winners else f"no arm beats it by more than {z:g} paired SE on every task")
    finished_in = finished_in_blocks(final, blocks)
    unfinished = [a + (f" (finished in block {finished_in[a]})" if a in finished_in else "")
                  for a in final.get("unfinished") or {}]
    block = final.get("block")
    opening = (f"In its block {block}, run on another host with the bundled recipe rerun beside the arms left "
               "unfinished, the study" if block else "Why this recipe: the recipe study's final comparison")
    return (f"{opening} trained {len(arms) + 1} recipes for "
            f"{final['rows'][0]['budget_cpu_s']:g} CPU-s each ({len(final['seeds'])} seeds, "
            f"{final['num_val_per_scenario']} validation clips per scenario) and paired each against the bundled "
            f"recipe, {final['paired'][0]['reference']}, on {', '.join(tasks)}: {lead}. " + "; ".join(parts)
            + (f". Left unfinished here: {', '.join(unfinished)}" if unfinished else "")
            + f" (`assets/benchmarks/{final['section']}.json`, BENCHMARKS.md).")


def gpu_line(laptop_gpu: dict | None) -> str | None:
    """One sentence on the longest laptop-gpu run at the preset's patch size (assets/laptop_gpu_check.py): what a
    few minutes on a GPU buy against the bundled CPU model, on the same validation clips."""
    if not laptop_gpu:
        return None
    preset = PRESETS[laptop_gpu["preset"]]
    runs = [r for r in laptop_gpu["runs"] if r["model"]["patch_size"] == preset.patch_size]
    if not runs:
        return None
    run = max(runs, key=lambda r: r["train_seconds"])
    columns = laptop_gpu_columns(run)
    mean = lambda errors: sum(errors.values()) / len(errors)  # noqa: E731  over the scenarios
    text = (f"With a GPU: the `{laptop_gpu['preset']}` preset (hidden {preset.hidden_size}, depth {preset.depth}, "
            f"patch {preset.patch_size}) trained for {run['train_seconds'] / 60:.1f} min on one {run['gpu']} "
            f"({run['steps']} steps) scores a mean {mean(columns['error']):.2f} px (DDIM-1) over the "
            f"{len(run['val'])} scenarios on {run['num_val_per_scenario']} validation clips each")
    if columns["bundled"]:
        below = sum(e < columns["bundled_error"][s] for s, e in columns["error"].items())
        text += (f", against {mean(columns['bundled_error']):.2f} px for the bundled model on the same clips (below "
                 f"it on {below} of {len(run['val'])} scenarios)")
    return text + " (`assets/benchmarks/laptop_gpu.json`, made by `assets/laptop_gpu_check.py`; no GPU weights ship)."


def lesson_times(bench_dir) -> str:
    """README.md's lesson-time table, from the lesson_times_{quick,cpu,cuda}.json files notebooks/conftest.py writes."""
    runs = {mode: _load(Path(bench_dir) / f"lesson_times_{mode}.json") for mode in TIME_MODES}
    runs = {mode: run for mode, run in runs.items() if run}
    if not runs:
        return "(no lesson timings yet: see notebooks/conftest.py)"
    lessons = sorted({name for run in runs.values() for name in (*run["seconds"], *run.get("stopped_after_s", {}))})
    duration = lambda s: f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"  # noqa: E731

    def cell(run, name):  # a measured time, a lower bound for a lesson stopped part-way, or a dash
        if name in run["seconds"]:
            return duration(run["seconds"][name])
        stopped = run.get("stopped_after_s", {}).get(name)
        return "—" if stopped is None else f"over {duration(stopped)} (stopped)"

    lines = ["| lesson | " + " | ".join(TIME_MODES[m] for m in runs) + " |", "|---|" + "---|" * len(runs)]
    lines += [f"| {name} | " + " | ".join(cell(run, name) for run in runs.values()) + " |" for name in lessons]
    lines += [""] + [f"- {TIME_MODES[m]}: {run['machine']}, {run['threads_per_kernel']} thread(s) per kernel, "
                     f"{run['pytest_workers']} lesson(s) at a time, {run['date']}"
                     + (f"; {run['note']}" if run.get("note") else "") for m, run in runs.items()]
    lines += [f"- {TIME_MODES[m]}: not measured yet (`notebooks/conftest.py` says how)" for m in TIME_MODES if m not in runs]
    return "\n".join(lines)


def _replace_block(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def write_cards(model_dir, bench_dir, readme="README.md") -> list[Path]:
    """Rewrite the model folder's README.md and README.md's results and lesson-time blocks."""
    model_dir = Path(model_dir)
    (model_dir / "README.md").write_text(model_card(model_dir, bench_dir) + "\n")
    written = [model_dir / "README.md"]
    readme = Path(readme)
    if readme.is_file():
        text = _replace_block(readme.read_text(), RESULTS_START, RESULTS_END, readme_results(bench_dir))
        text = _replace_block(text, TIMES_START, TIMES_END, lesson_times(bench_dir))
        readme.write_text(text)
        written.append(readme)
    return written


def main(args):
    """`minivdt bench card`."""
    from ...course import default_checkpoint

    for path in write_cards(args.checkpoint or default_checkpoint(), args.out, args.readme):
        print(f"wrote {path}")
