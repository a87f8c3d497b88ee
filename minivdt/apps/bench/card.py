"""Benchmarks — `minivdt bench card`: the model card (README.md of a model folder) and README.md's two generated
tables (the results and the lesson times), written from the model's training.json and the benchmark JSON files, so
that no number in them is typed by hand. tests/test_cards.py regenerates them and fails when the committed text is
stale."""

from __future__ import annotations

from pathlib import Path

from ...cards import read_card, total_train_seconds
from ...checkpoints import read_json_object
from ...model import count_flops
from ...training import load_model
from .common import CNN_NAME, TRIVIAL, VDT_NAME, md_table

RESULTS_START, RESULTS_END = "<!-- results: written by `minivdt bench card` -->", "<!-- /results -->"
TIMES_START, TIMES_END = "<!-- lesson times: written by `minivdt bench card` -->", "<!-- /lesson times -->"
UNCERTAIN_START, UNCERTAIN_END = "<!-- uncertain results: written by `minivdt bench card` -->", \
    "<!-- /uncertain results -->"
EXPERIMENTS_START, EXPERIMENTS_END = "<!-- experiments: written by `minivdt bench card` -->", "<!-- /experiments -->"
TIME_MODES = {"quick": "quick mode (CI)", "cpu": "default on a CPU", "cuda": "default on a GPU"}
# quality.json's method -> its column in the results table
RESULT_COLUMNS = {VDT_NAME: VDT_NAME, CNN_NAME: CNN_NAME,
                  **dict(zip(TRIVIAL, ("copy-last frame", "constant velocity")))}


def _load(path) -> dict | None:
    path = Path(path)
    return read_json_object(path) if path.is_file() else None


def results_table(quality: dict) -> list[str]:
    """Per scenario and on average, the position error (px) of the VDT, the SimVP-CNN (when measured) and the two
    trivial baselines."""
    results = quality["results"]
    methods = [m for m in RESULT_COLUMNS if all(m in r for r in results.values())]
    rows = [[scenario] + [f"{r[m]['position_error']:.2f}" for m in methods] for scenario, r in results.items()]
    mean = [sum(r[m]["position_error"] for r in results.values()) / len(results) for m in methods]
    return md_table(["scenario"] + [f"{RESULT_COLUMNS[m]} px" for m in methods],
                    rows + [["**mean**"] + [f"**{e:.2f}**" for e in mean]])


def stochastic_table(stochastic: dict) -> list[str]:
    """Per stochastic scenario and method: energy score ± SE, best-of-1 and best-of-8, lost balls, Brier score."""
    rows = [[f"{scenario}: {name}", f"{r['energy']['mean']:.2f} ± {r['energy']['se']:.2f}",
             f"{r['best_of']['1']['mean']:.2f}", f"{r['best_of']['8']['mean']:.2f}", f"{r['lost']['mean']:.1%}",
             f"{r['brier']['mean']:.3f}"]
            for scenario, methods in stochastic["scenarios"].items() for name, r in methods.items()
            if name not in ("uniform noise", "blank (no balls)")]
    return md_table(["scenario: method", "energy px", "best-of-1 px", "best-of-8 px", "lost", "Brier"], rows)


def readme_results(bench_dir) -> str:
    """README.md's results block (between RESULTS_START and RESULTS_END): the deterministic scenarios' table."""
    q = _load(Path(bench_dir) / "quality.json")
    if not q:
        return "(no quality benchmark yet: run `minivdt bench quality`)"
    return "\n".join([f"Position error in pixels of the {q['num_given']} predicted frames (lower is better), "
                      f"{q['num_clips']} held-out test clips per scenario, the VDT sampled with "
                      f"{q['sampler'].upper()}-{q['sampling_steps']}; from `assets/benchmarks/quality.json`:", ""]
                     + results_table(q))


def readme_uncertain(bench_dir) -> str:
    """README.md's block for the stochastic scenarios (lesson 9), from stochastic.json."""
    st = _load(Path(bench_dir) / "stochastic.json")
    if not st:
        return "(not measured yet: run `minivdt bench stochastic`)"
    return "\n".join([f"An uncertain future (lesson 9): {st['num_clips']} held-out clips, each scored against "
                      f"{st['num_futures']} simulator futures; the VDT rows draw {st['num_samples']} samples per clip, "
                      "the others predict once (lower is better; ± one standard error); from "
                      "`assets/benchmarks/stochastic.json`:", ""] + stochastic_table(st))


def _experiment_score(result: dict) -> tuple[str, str, float, float]:
    """(what is scored, its number format, the VDT's score, copy-last's) of one `minivdt eval` JSON."""
    if "clips" in result:  # your own clips: PSNR of the predicted frames
        c = result["clips"]
        return "PSNR dB (higher is better)", ".1f", c["VDT"]["psnr"], c["copy_last_frame"]["psnr"]
    uncertain = result.get("uncertain")
    scores, key = (uncertain, "energy_score") if uncertain else (result["predict"], "position_error")
    vdt = next(name for name in next(iter(scores.values())) if name.startswith("VDT"))  # "VDT" or "VDT ddpm-25"
    mean = {n: sum(s[n][key] for s in scores.values()) / len(scores) for n in (vdt, "copy_last_frame")}
    return ("energy px" if uncertain else "position error px"), ".2f", mean[vdt], mean["copy_last_frame"]


def readme_experiments(bench_dir) -> str:
    """README.md's table of 'Your own experiment' recipes, from assets/experiments.py's experiments.json."""
    e = _load(Path(bench_dir) / "experiments.json")
    if not e:
        return "(not measured yet: run `python assets/experiments.py runs/experiments`)"
    rows = []
    for r in e["recipes"]:
        what, fmt, tuned, copy_last = _experiment_score(r["fine_tuned"])
        bundled = _experiment_score(r["bundled"])[2]
        rows.append([r["recipe"], f"`{r['train_command']}`", f"{r['train_seconds'] / 60:.1f} min ({r['steps']} steps)",
                     what, " / ".join(format(x, fmt) for x in (tuned, bundled, copy_last)), "not measured"])
    start = e.get("started_from") or {}
    return "\n".join([f"Three recipes, each fine-tuned for {e['minutes']:g} minutes of training from an earlier "
                      f"bundled model ({start.get('steps', '?')} steps), run by `python assets/experiments.py` on "
                      f"{e['cpu_count']} CPU cores with {e['threads'] or 'default'} torch thread(s) while other jobs "
                      f"shared the cores (load average {e['load_average_at_start']:.1f} to "
                      f"{e['load_average_at_end']:.1f}); CPU time is the whole `train` command; each run is scored by "
                      f"`minivdt eval` on {e['num_clips']} test clips per scenario (your own videos: the validation "
                      "files), the bundled model on the same clips; no GPU was lent to measure the GPU column:", ""]
                     + md_table(["recipe", "command", "CPU time", "scored by", "fine-tuned / bundled / copy-last",
                                 "GPU time"], rows))


def lesson_times(bench_dir) -> str:
    """README.md's lesson-time table, from the lesson_times_{quick,cpu,cuda}.json files notebooks/conftest.py writes,
    with one footnote: the machines."""
    runs = {mode: _load(Path(bench_dir) / f"lesson_times_{mode}.json") for mode in TIME_MODES}
    if not any(runs.values()):
        return "(no lesson timings yet: see notebooks/conftest.py)"
    lessons = sorted({name for run in runs.values() if run for name in run["seconds"]})

    def cell(run, name):  # a measured time, or a dash
        seconds = (run or {}).get("seconds", {}).get(name)
        return "—" if seconds is None else f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    machines = {}  # machine -> the modes measured on it
    for mode, run in runs.items():
        if run:
            machines.setdefault(run["machine"], []).append(TIME_MODES[mode])
    return "\n".join(md_table(["lesson", *TIME_MODES.values()], [[name] + [cell(run, name) for run in runs.values()]
                                                                  for name in lessons])
                     + ["", "- " + "; ".join(f"{', '.join(modes)}: {m}" for m, modes in machines.items())])


def targets_summary(quality: dict) -> list[str]:
    targets = quality["targets"]
    measured = {n: t for n, t in targets.items() if t.get("measured", True)}
    met = [n for n, t in measured.items() if t["met"]]
    missed = [f"{n} ({t['detail']})" for n, t in measured.items() if not t["met"]]
    lines = [f"{len(met)} of {len(measured)} measured targets met ({len(targets) - len(measured)} not measured)."]
    if missed:
        lines += ["", "Not met:", ""] + [f"- {m}" for m in missed]
    return lines


def _sampling(card: dict) -> str:
    """The model card's sampling row: the measured choices (bench sampler), else the library default."""
    choice = card.get("sampling")
    if not choice:
        return "no measured choice: the library default sampler (`minivdt.diffusion.DEFAULT_SAMPLER`)"
    u, st = choice.get("unconditional"), choice.get("stochastic")
    return (f"{choice['sampler'].upper()}-{choice['steps']} for predictions (the lowest mean position error on "
            "validation clips, `minivdt bench sampler`)"
            + (f"; {u['sampler'].upper()}-{u['steps']} from nothing (balls per frame closest to real clips)"
               if u else "")
            + (f"; {st['sampler'].upper()}-{st['steps']} for an uncertain future (the lowest energy score against the "
               "simulator's futures on validation clips of the stochastic scenarios)" if st else ""))


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


def _training(card: dict) -> str:
    this = f"{card.get('steps')} steps, {card.get('train_seconds', 0):.0f} s of training on {card.get('machine')}"
    init = card.get("init")
    if not init:
        return this
    return (f"{this}, fine-tuned from the model of {init.get('exported')} ({init.get('steps')} steps, "
            f"{init.get('train_seconds', 0):.0f} s): {total_train_seconds(card):.0f} s in all")


def model_card(model_dir, bench_dir, name: str = "vdt-cpu-tiny") -> str:
    """The README.md text of a model folder."""
    model_dir = Path(model_dir)
    card, model = read_card(model_dir), load_model(model_dir)
    cfg, train = model.cfg, card.get("train_config", {})
    quality = _load(Path(bench_dir) / "quality.json")
    params = sum(p.numel() for p in model.parameters())
    lines = [f"# Model card: `{name}` (bundled)", "",
             "The all-task VDT that `minivdt demo`, `minivdt sample` and lessons 5, 7 and 8 load. Every number here "
             "is read from `training.json` and `assets/benchmarks/*.json` by `minivdt bench card`.", "",
             "| | |", "|---|---|",
             f"| architecture | `VDT`, hidden {cfg.hidden_size}, depth {cfg.depth}, {cfg.num_heads} heads, patch "
             f"{cfg.patch_size} ({cfg.tokens_per_frame} tokens per frame), {cfg.num_frames} frames of "
             f"{cfg.height}×{cfg.width}×{cfg.in_channels} pixels, {cfg.attention_mode} attention, adaLN-Zero; "
             f"{params / 1e6:.2f} M parameters, {count_flops(cfg) / 1e9:.2f} GFLOPs per clip forward |",
             f"| conditioning | `cond_mode=\"{cfg.cond_mode}\"` with unified spatio-temporal masks |",
             f"| tasks trained | mix per sample: {_task_mixes(card, train)} |",
             f"| diffusion | `prediction_type=\"{train.get('prediction_type')}\"`, timesteps "
             f"`{train.get('timestep_sampling')}`, loss weighting {train.get('loss_weighting')}; EMA "
             f"{train.get('ema_decay')} weights |",
             f"| data | {train.get('num_train_clips')} simulated training clips of "
             f"{', '.join(train.get('scenarios', []))} (the `train` split) |",
             f"| optimisation | AdamW, lr {_learning_rates(card, train)} ({train.get('warmup_steps')} warm-up steps), "
             f"batch {train.get('batch_size')}, grad-clip {train.get('grad_clip')}, {train.get('mixed_precision')} "
             f"mixed precision, seed {train.get('seed')} |",
             f"| training | {_training(card)} |",
             f"| sampling | {_sampling(card)} |", "",
             "Reproduce: the phases of `assets/train_bundled.py`'s docstring, one `python assets/train_bundled.py RUN "
             "--steps N ...` each (the learning rates and task mixes of the rows above; one torch thread; resumable: "
             "run it again after an interruption), `minivdt export RUN assets/vdt-cpu-tiny`, `minivdt bench sampler "
             "--checkpoint assets/vdt-cpu-tiny --write-card`, `minivdt bench quality`, then `minivdt bench card`. "
             "Its learning curve: `assets/benchmarks/bundled_run_curve.jsonl` (`assets/bundled_curve.py`)."
             + (" Then the fine-tune onto the stochastic `bounce` scenario beside the others: the two phases of "
                "`assets/train_stochastic.py`'s docstring (its curve: `assets/benchmarks/stochastic_curve.jsonl`), "
                "exported over the model it started from, and the same benchmarks with `minivdt bench stochastic` "
                "after them." if card.get("init") else ""), ""]
    if quality:
        lines += ["## How good it is (`BENCHMARKS.md`)", "",
                  f"{quality['num_clips']} test clips per scenario (never seen in training or in choosing the "
                  f"sampler), mean position error of the {quality['num_given']} predicted frames (px); measured "
                  f"{quality['date']}.", ""] + results_table(quality) + [""] + targets_summary(quality) + [""]
    stochastic = _load(Path(bench_dir) / "stochastic.json")
    if stochastic:
        lines += [f"An uncertain future (`minivdt bench stochastic`, lesson 9): {stochastic['num_clips']} test clips, "
                  f"each against {stochastic['num_futures']} simulator futures; measured {stochastic['date']}.", ""] \
            + stochastic_table(stochastic) + [""]
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
        text = _replace_block(text, UNCERTAIN_START, UNCERTAIN_END, readme_uncertain(bench_dir))
        text = _replace_block(text, EXPERIMENTS_START, EXPERIMENTS_END, readme_experiments(bench_dir))
        readme.write_text(text)
        written.append(readme)
    return written


def main(args):
    """`minivdt bench card`."""
    from ...course import default_checkpoint

    for path in write_cards(args.checkpoint or default_checkpoint(), args.out, args.readme):
        print(f"wrote {path}")
