"""Notebooks are committed without outputs and follow the lesson template (README promises both)."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

EXTRA_KEYS = "metadata.language_info"  # README: git config filter.nbstripout.extrakeys
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_all_nine_lessons_are_present():
    assert [nb.name[:2] for nb in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 10)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `jupyter nbconvert --clear-output --inplace`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_lesson_template(path):
    notebook = nbformat.read(path, as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    for heading in ("You will learn", "Prerequisites", "Exercise 1", "Summary", "Next"):
        assert heading in text, f"{path.name} has no '{heading}' section"
    tagged = [cell for cell in notebook.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "lesson_size()" in tagged[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_already_in_the_form_the_git_filter_writes(path):
    # .gitattributes runs nbstripout on every notebook git reads; a committed file that the filter would change
    # shows up as modified in `git status` for every instructor who installed the filter.
    stripped = subprocess.run([sys.executable, "-m", "nbstripout", "-t", "--extra-keys", EXTRA_KEYS, str(path)],
                              capture_output=True, text=True, check=True).stdout
    assert stripped == path.read_text(), f"{path.name}: run `nbstripout --extra-keys {EXTRA_KEYS!r} {path}`"
