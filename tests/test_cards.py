"""The model card and README's results and lesson-time blocks are written from the benchmark JSON files by
`minivdt bench card`: regenerating them must reproduce the committed text exactly (no number typed by hand)."""

import json
import shutil
from pathlib import Path

from minivdt.apps.bench import card
from minivdt.course import ASSETS, default_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_committed_model_card_and_readme_blocks_are_up_to_date(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(default_checkpoint(), model)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    card.write_cards(model, ASSETS / "benchmarks", readme)
    assert (model / "README.md").read_text() == (default_checkpoint() / "README.md").read_text(), \
        "model card is stale: run `minivdt bench card`"
    assert readme.read_text() == (ROOT / "README.md").read_text(), "README blocks are stale: run `minivdt bench card`"
    text = readme.read_text()
    for start, end in ((card.RESULTS_START, card.RESULTS_END), (card.TIMES_START, card.TIMES_END)):
        assert text.count(start) == 1 and text.count(end) == 1


def test_results_table_says_whether_the_vdt_beats_both_trivial_baselines():
    row = lambda px: {"position_error": px, "lost_fraction": 0.0}  # noqa: E731
    quality = {"results": {"drop": {"VDT": row(1.0), "copy_last_frame": row(2.0), "constant_velocity": row(3.0)},
                           "roll": {"VDT": row(2.5), "copy_last_frame": row(2.0), "constant_velocity": row(3.0)}}}
    lines = card.results_table(quality)
    assert lines[2].endswith("| yes |") and lines[3].endswith("| no |")


def test_lesson_times_show_a_lesson_stopped_part_way_as_a_lower_bound(tmp_path):
    run = dict(mode="cuda", machine="some GPU", threads_per_kernel="4", pytest_workers=1, date="today",
               seconds={"01_world": 7.0}, stopped_after_s={"05_vdt_block": 300}, note="the loan ran out")
    (tmp_path / "lesson_times_cuda.json").write_text(json.dumps(run))
    table = card.lesson_times(tmp_path)
    assert "| 01_world | 7 s |" in table
    assert "| 05_vdt_block | over 5.0 min (stopped) |" in table
    assert "the loan ran out" in table
    assert "default on a CPU: not measured yet" in table


def test_task_mix_row_lists_each_phase_with_its_first_step():
    from minivdt.apps.bench.card import _task_mixes

    train = {"task_weights": {"predict": 0.5, "unconditional": 0.05}}
    assert _task_mixes({}, train) == "predict 0.5, unconditional 0.05"
    phases = [{"from_step": 0, "task_weights": train["task_weights"]},
              {"from_step": 22000, "task_weights": {"predict": 0.4, "unconditional": 0.25}}]
    assert _task_mixes({"task_weights": phases}, train) == (
        "predict 0.5, unconditional 0.05 (from step 0); then predict 0.4, unconditional 0.25 (from step 22000)")


def test_sampling_line_names_both_measured_choices():
    """The card says how the model predicts (the lowest val error) and how it generates from nothing."""
    rows = [dict(sampler="ddim", steps=1, mean_position_error=1.3), dict(sampler="dpm", steps=25, mean_position_error=1.5)]
    sampling = dict(sampler="ddim", steps=1, unconditional=dict(sampler="dpm", steps=25))
    line = card.sampling_line({"sampling": sampling}, dict(rows=rows, num_val_per_scenario=32))
    assert line.startswith("DDIM, 1 step, the lowest mean position error on 32 validation clips")
    assert "DPM-25 1.50" in line and line.endswith("from nothing (unconditional): DPM, 25 steps, whose samples hold "
                                                   "the number of balls per frame closest to real clips")
    assert "unconditional" not in card.sampling_line({"sampling": dict(sampler="ddim", steps=1)}, None)


def test_gpu_line_reports_the_longest_run_at_the_preset_patch_against_the_bundled_model():
    def run(patch, seconds, gpu_px, bundled_px):
        val = {s: {"laptop-gpu DDIM-1": {"position_error": gpu_px}, "laptop-gpu DDPM-25": {"position_error": 0.1},
                   "bundled cpu-tiny DDIM-1": {"position_error": bundled_px + i}, "copy_last_frame": {}}
               for i, s in enumerate(("drop", "roll"))}
        return dict(gpu="GPU X", model={"patch_size": patch}, train_seconds=seconds, steps=10, val=val,
                    num_val_per_scenario=4)

    g = dict(preset="laptop-gpu", runs=[run(4, 900.0, 0.1, 9.0), run(8, 90.0, 5.0, 1.0), run(8, 270.0, 1.5, 1.0)])
    line = card.gpu_line(g)
    assert "trained for 4.5 min on one GPU X (10 steps) scores a mean 1.50 px (DDIM-1) over the 2 scenarios" in line
    assert "against 1.50 px for the bundled model on the same clips (below it on 1 of 2 scenarios)" in line
    assert card.gpu_line(None) is None and card.gpu_line(dict(preset="laptop-gpu", runs=[run(4, 9.0, 1, 1)])) is None


def test_cnn_line_compares_the_vdt_with_the_equal_budget_cnn_and_is_absent_without_one():
    def result(error):
        return dict(position_error=error, lost_fraction=0.0)

    quality = dict(results={"drop": {"VDT": result(2.0), "SimVP-CNN": result(1.0)},
                            "roll": {"VDT": result(0.3), "SimVP-CNN": result(0.5)}},
                   cnn=dict(train_seconds=3600.0), physics=dict(best_of_k={"drop": {"8": 1.5}, "roll": {"8": 0.25}}))
    assert card.cnn_line(quality) == (
        "The SimVP-CNN baseline, a deterministic regressor trained on forward prediction alone for the same 3600 s of "
        "CPU as the VDT, is ahead of it on 1 of 2 scenarios: mean 0.75 px against the VDT's 1.15 px (the VDT's "
        "error is 0.6–2.0× the CNN's; the best of 8 VDT samples per clip: 0.88 px).")
    assert card.cnn_line(dict(quality, cnn=None)) is None  # a --no-cnn run


def test_recipe_line_sorts_each_final_arm_into_better_worse_or_within_per_task():
    def pair(arm, task, difference):
        return dict(arm=arm, reference="base", task=task, difference=difference, se=0.1)

    final = dict(section="recipe_final", seeds=[0, 1], num_val_per_scenario=64, rows=[dict(budget_cpu_s=1200)],
                 unfinished={"slow": 1, "never": 0},
                 paired=[pair("mixed", "predict", -0.3), pair("mixed", "backward", 0.3),
                         pair("mixed", "interpolate", 0.1), pair("loser", "predict", 0.5),
                         pair("loser", "backward", 0.5), pair("loser", "interpolate", 0.5)])
    line = card.recipe_line(final)
    assert "trained 3 recipes for 1200 CPU-s each (2 seeds, 64 validation clips" in line
    assert "no arm beats it by more than 2 paired SE on every task" in line
    assert ("mixed: better on predict (-0.30 px), worse on backward (+0.30 px), within 2 SE on interpolate (+0.10 px)"
            in line)
    assert "loser: worse on predict (+0.50 px) and backward (+0.50 px) and interpolate (+0.50 px)" in line
    assert "Left unfinished here: slow, never (`assets/benchmarks/recipe_final.json" in line
    winner = [pair("best", task, -0.5) for task in ("predict", "backward", "interpolate")]
    assert "best beats it by more than 2 paired SE on every task" in card.recipe_line(dict(final, paired=winner))
    # a block: the unfinished arm finished on another host, with the base arm rerun there
    block = dict(final, section="recipe_final_xeon", block="xeon", unfinished={}, rows=[dict(budget_cpu_s=1200,
                 arm="slow")], paired=[pair("slow", "predict", 0.0)])
    assert ("Left unfinished here: slow (finished in block xeon), never (`assets/benchmarks/recipe_final.json"
            in card.recipe_line(final, blocks=[block]))
    line = card.recipe_line(block)
    assert line.startswith("In its block xeon, run on another host with the bundled recipe rerun")
    assert "slow: within 2 SE on predict (+0.00 px)" in line and "recipe_final_xeon.json" in line
    assert card.recipe_line(None) is None and card.recipe_line(dict(final, paired=[])) is None
