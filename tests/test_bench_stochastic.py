"""`minivdt bench stochastic` (lesson 9) end to end on a tiny model: the JSON, its section and the targets table."""

import json

import pytest

from minivdt.apps import cli
from minivdt.apps.bench import stochastic
from minivdt.baselines import make_cnn, save_cnn


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    """A one-second 'equal-budget' CNN for the tiny checkpoint (its card says train_seconds 1.0)."""
    folder = tmp_path_factory.mktemp("cnn")
    return save_cnn(make_cnn(8, 8, seed=0, hidden=8, translator_width=16, translator_depth=1), folder,
                    {"budget_s": 1.0, "train_seconds": 1.0, "steps": 1, "init": "scratch"})


def test_quick_run_writes_json_section_and_targets(tiny_checkpoint, tiny_cnn, tmp_path):
    out = tmp_path / "bench"
    curve = tmp_path / "curve.jsonl"  # two points of assets/train_stochastic.py's curve
    curve.write_text("".join(json.dumps(dict(step=s, seconds=s * 1.5, position_error=1.0, bounce_energy_ddpm25=e,
                                             bounce_energy_ddim1=2.0, bounce_lost_ddpm25=0.1)) + "\n"
                             for s, e in ((500, 1.75), (1000, 1.5))))
    assert cli.main(["bench", "stochastic", "--quick", "--checkpoint", str(tiny_checkpoint), "--cnn-run",
                     str(tiny_cnn), "--out", str(out), "--md", str(tmp_path / "B.md"), "--threads", "1",
                     "--curve", str(curve)]) == 0
    data = json.loads((out / "stochastic.json").read_text())
    rows = data["scenarios"]["bounce"]
    assert {data["vdt"], "VDT ddim-1", "SimVP-CNN", "copy_last_frame", "constant_velocity", "uniform noise",
            "blank (no balls)"} == set(rows)
    for name, row in rows.items():
        assert set(row["best_of"]) == {"1", "4", "8"} and row["energy"]["se"] >= 0
        assert row["energy_minus_vdt"]["mean"] == pytest.approx(row["energy"]["mean"] - rows[data["vdt"]]["energy"]["mean"])
    assert rows["blank (no balls)"]["lost"]["mean"] == 1.0  # no ball is no forecast
    section = (out / "stochastic.md").read_text()
    assert "### Targets" in section and "energy below SimVP-CNN by > 2 SE" in section
    assert "| 1000 | 1500 | 1.00 | 1.50 | 2.00 | 10.0% |" in section  # the VDT's curve, where training stalls
    assert "Stochastic scenarios" in (tmp_path / "B.md").read_text()
    targets = stochastic.targets(data)
    assert all(isinstance(met, bool) for _, _, met in targets) and len(targets) >= 7


def test_a_cnn_of_another_budget_is_refused(tiny_checkpoint, tmp_path):
    other = save_cnn(make_cnn(8, 8, seed=0, hidden=8, translator_width=16, translator_depth=1), tmp_path / "cnn",
                     {"budget_s": 99.0})
    with pytest.raises(ValueError, match="not an equal-budget comparison"):
        stochastic.bench_stochastic(tiny_checkpoint, cnn_run=other, num_clips=1, num_futures=1, num_samples=1)
