"""The `minivdt` command line: help, data preview, sample, demo, and clear errors on bad input."""

import json

import pytest
import torch

from minivdt.apps import cli
from minivdt.model import VDT
from minivdt.world import SCENARIOS


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    VDT.from_preset("cpu-tiny", hidden_size=32, depth=1, num_heads=2).save_pretrained(path)
    return path


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("data", "train", "sample", "demo", "bench"):
        assert command in out


def test_data_preview_writes_every_scenario(tmp_path, capsys):
    assert cli.main(["data", "preview", "--out", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    for scenario in SCENARIOS:
        assert f"{scenario}.mp4" in written and f"{scenario}.png" in written


def test_demo_runs_and_writes_outputs(tmp_path, tiny_checkpoint, capsys):
    code = cli.main(["demo", "--checkpoint", str(tiny_checkpoint), "--num-clips", "2", "--steps", "2",
                     "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "VDT (bundled)" in out and "constant_velocity" in out and "copy_last_frame" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == set(SCENARIOS)
    assert (tmp_path / "demo.mp4").stat().st_size > 0


def test_sample_writes_video(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "interp.gif"
    assert cli.main(["sample", "--checkpoint", str(tiny_checkpoint), "--task", "interpolate", "--num-clips", "1",
                     "--steps", "2", "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and "interpolate" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["sample", "--task", "teleport"], "task must be one of"),
    (["sample", "--scenario", "explode", "--checkpoint", "CKPT"], "scenario"),
    (["demo", "--checkpoint", "/no/such/folder"], "config.json"),
    (["train", "--preset", "giant"], "preset must be one of"),
])
def test_bad_input_exits_with_a_clear_message(argv, message, tiny_checkpoint, capsys):
    argv = [str(tiny_checkpoint) if a == "CKPT" else a for a in argv]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_train_then_resume_from_the_command_line(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert cli.main(["train", "--preset", "smoke", "--out", run, "--steps", "2"]) == 0
    assert cli.main(["train", "--preset", "smoke", "--out", run, "--steps", "3", "--resume"]) == 0
    assert "trained to step 3" in capsys.readouterr().out


def test_sampler_choices_are_the_library_schedulers():
    from minivdt.diffusion import DEFAULT_SAMPLER, SCHEDULERS

    assert cli.SAMPLERS == tuple(SCHEDULERS) and DEFAULT_SAMPLER in cli.SAMPLERS
