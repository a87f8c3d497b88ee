"""Generated text must match the benchmark JSON files: the model card and README's two tables (written by
`minivdt bench card`) and BENCHMARKS.md with its section files (written by `minivdt bench report`). Regenerating
them must reproduce the committed text exactly (no number typed by hand)."""

import json
import re
import shutil
from pathlib import Path

from minivdt.apps import cli
from minivdt.apps.bench import card
from minivdt.course import ASSETS, default_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def _blocks(text: str) -> list[str]:
    """README's generated blocks."""
    blocks = []
    for start, end in ((card.RESULTS_START, card.RESULTS_END), (card.TIMES_START, card.TIMES_END),
                       (card.UNCERTAIN_START, card.UNCERTAIN_END), (card.EXPERIMENTS_START, card.EXPERIMENTS_END)):
        assert text.count(start) == 1 and text.count(end) == 1
        blocks.append(text.split(start)[1].split(end)[0])
    return blocks


def test_committed_model_card_and_readme_blocks_are_up_to_date(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(default_checkpoint(), model)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    card.write_cards(model, ASSETS / "benchmarks", readme)
    assert (model / "README.md").read_text() == (default_checkpoint() / "README.md").read_text(), \
        "model card is stale: run `minivdt bench card`"
    assert readme.read_text() == (ROOT / "README.md").read_text(), "README blocks are stale: run `minivdt bench card`"


def test_readme_blocks_are_tables_without_hosts_dates_or_study_history():
    """A user's README: each generated block is one table and at most one line of caption or footnote."""
    for block in _blocks((ROOT / "README.md").read_text()):
        lines = [line for line in block.splitlines() if line.strip()]
        assert sum(not line.startswith("|") for line in lines) <= 1, block
        for word in ("EPYC", "Xeon", "AVX", "AMX", "block", "loan", "host"):
            assert not re.search(rf"\b{word}", block), word
        assert not re.search(r"\d{4}-\d\d-\d\d", block)


def test_committed_benchmarks_page_and_sections_are_up_to_date(tmp_path, capsys):
    """`bench report` on a copy of the JSON files writes the committed sections and BENCHMARKS.md again (with the
    measuring machine's folder above assets/, which the copy's page cannot show relative to itself, left out)."""
    out = tmp_path / "benchmarks"
    out.mkdir()
    for path in (ASSETS / "benchmarks").glob("*.json*"):
        shutil.copy(path, out)
    assert cli.main(["bench", "report", "--out", str(out), "--md", str(tmp_path / "BENCHMARKS.md")]) == 0
    capsys.readouterr()
    text = lambda path: re.sub(r"/[^\s`()]*?/assets/", "assets/", path.read_text())  # noqa: E731
    sections = sorted(out.glob("*.md"))
    assert [p.name for p in sections] == sorted(p.name for p in (ASSETS / "benchmarks").glob("*.md"))
    for path in sections:
        assert text(path) == text(ASSETS / "benchmarks" / path.name), \
            f"{path.name} is stale: run `minivdt bench report`"
    assert text(tmp_path / "BENCHMARKS.md") == text(ROOT / "BENCHMARKS.md"), \
        "BENCHMARKS.md is stale: run `minivdt bench report`"


def test_results_table_has_a_column_per_method_and_a_mean_row():
    row = lambda px: {"position_error": px, "lost_fraction": 0.0}  # noqa: E731
    quality = {"results": {"drop": {"VDT": row(1.0), "copy_last_frame": row(2.0), "constant_velocity": row(3.0)},
                           "roll": {"VDT": row(2.5), "copy_last_frame": row(2.0), "constant_velocity": row(4.0)}}}
    lines = card.results_table(quality)
    assert lines[0] == "| scenario | VDT px | copy-last frame px | constant velocity px |"  # no CNN measured
    assert lines[2] == "| drop | 1.00 | 2.00 | 3.00 |" and lines[-1] == "| **mean** | **1.75** | **2.00** | **3.50** |"
    for scenario in quality["results"].values():
        scenario["SimVP-CNN"] = row(0.5)
    assert card.results_table(quality)[0] == \
        "| scenario | VDT px | SimVP-CNN px | copy-last frame px | constant velocity px |"


def test_lesson_times_are_a_plain_table_with_one_footnote_naming_the_machines(tmp_path):
    run = dict(mode="cuda", machine="some GPU", threads_per_kernel="4", pytest_workers=1, date="today",
               seconds={"01_world": 7.0, "05_vdt_block": 300.0}, note="the loan ran out")
    (tmp_path / "lesson_times_cuda.json").write_text(json.dumps(run))
    (tmp_path / "lesson_times_quick.json").write_text(json.dumps(dict(run, machine="x86_64, 2 cores",
                                                                      seconds={"01_world": 7.0})))
    table = card.lesson_times(tmp_path)
    assert table.splitlines()[0] == "| lesson | quick mode (CI) | default on a CPU | default on a GPU |"
    assert "| 01_world | 7 s | — | 7 s |" in table
    assert "| 05_vdt_block | — | — | 5.0 min |" in table
    assert table.splitlines()[-1] == "- quick mode (CI): x86_64, 2 cores; default on a GPU: some GPU"
    assert "loan" not in table and "today" not in table


def test_task_mix_row_lists_each_phase_with_its_first_step():
    from minivdt.apps.bench.card import _task_mixes

    train = {"task_weights": {"predict": 0.5, "unconditional": 0.05}}
    assert _task_mixes({}, train) == "predict 0.5, unconditional 0.05"
    phases = [{"from_step": 0, "task_weights": train["task_weights"]},
              {"from_step": 22000, "task_weights": {"predict": 0.4, "unconditional": 0.25}}]
    assert _task_mixes({"task_weights": phases}, train) == (
        "predict 0.5, unconditional 0.05 (from step 0); then predict 0.4, unconditional 0.25 (from step 22000)")


def test_sampling_row_names_both_measured_choices():
    """The card says how the model predicts (the lowest val error) and how it generates from nothing."""
    sampling = dict(sampler="ddim", steps=1, unconditional=dict(sampler="dpm", steps=25))
    assert card._sampling({"sampling": sampling}) == (
        "DDIM-1 for predictions (the lowest mean position error on validation clips, `minivdt bench sampler`); "
        "DPM-25 from nothing (balls per frame closest to real clips)")
    assert "nothing" not in card._sampling({"sampling": dict(sampler="ddim", steps=1)})
    assert "library default" in card._sampling({})
