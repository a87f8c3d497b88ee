"""The `minivdt` command line: help, data preview, sample, demo, and clear errors on bad input."""

import json

import numpy as np
import pytest
import torch

from minivdt import checkpoints
from minivdt.apps import cli, demo
from minivdt.masks import TASKS
from minivdt.model import VDT
from minivdt.world import SCENARIOS


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    checkpoints.save_model(VDT.from_preset("cpu-tiny", hidden_size=32, depth=1, num_heads=2), path)
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
    # the table explains itself: every column, the cap, why blank frames can win on PSNR, and the clip counts
    for words in ("last-step   the same at the last frame (16)", "lost        fraction of balls", "contact     ",
                  "counts as 8.00 px, the cap", "blank frames are wrong only where the balls are",
                  "2 held-out test clips per scenario", "README's table is `minivdt bench quality` on 64"):
        assert " ".join(words.split()) in " ".join(out.split()), words
    legend = out.split("How to read the table")[1].split("\nwrote ")[0]
    assert all(len(line) <= demo.LEGEND_WIDTH for line in legend.splitlines())


def test_the_demo_pictures_are_labelled(tiny_checkpoint):
    """The grid and the video frames carry text (scenario, given / predicted, truth / VDT): dark pixels in the
    label column and header, which the unlabelled pictures left white."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 255, (2, 16, 32, 32, 3), dtype=np.uint8)
    shown = [("drop", truth, truth[::-1].copy())]
    grid = demo.labelled_grid(shown, num_given=8)
    video = demo.labelled_video(shown, num_given=8)
    assert video.shape[0] == 16 and grid.ndim == 3
    for image in (grid, video[0], video[-1]):
        assert (image[:, :demo.LABEL_W - 8] < 128).any(axis=-1).sum() > 50  # row labels
        assert (image[:demo.HEADER_H - 4] < 200).any(axis=-1).sum() > 50  # header
    assert not np.array_equal(video[0][:16], video[-1][:16])  # "given" in frame 1, "predicted" in frame 16
    assert tuple(video[-1][demo.HEADER_H + 1, demo.LABEL_W + 32 * 4 + 3 * 3 + 4 + 1]) == demo.PREDICTED_COLOR


def test_sample_and_demo_give_the_same_scores_for_the_same_model_and_clips(tmp_path, tiny_checkpoint, capsys):
    """sample used to average PSNR over all 16 frames, the 8 given ones copied exactly (100 dB each)."""
    shown = demo.run_demo(tiny_checkpoint, num_clips=2, steps=2, scenarios=("drop",), out_dir=tmp_path / "demo")
    sampled = demo.run_sample(tiny_checkpoint, "predict", "drop", num_clips=2, steps=2, out=tmp_path / "s.gif")
    vdt = shown["drop"]["VDT (bundled)"]
    assert sampled["psnr"] == pytest.approx(vdt["psnr"], abs=1e-9)
    assert sampled["ssim"] == pytest.approx(vdt["ssim"], abs=1e-9)
    assert sampled["generated_fraction"] == 0.5


@pytest.mark.parametrize("task", TASKS)
def test_sample_scores_only_the_generated_positions(tmp_path, tiny_checkpoint, task, capsys):
    scores = demo.run_sample(tiny_checkpoint, task, "mixed", num_clips=2, steps=1, out=tmp_path / "s.gif")
    assert scores["psnr"] < 30, scores  # an untrained model; copied given frames counted 100 dB each
    assert 0 < scores["generated_fraction"] <= 1
    assert "scored on the generated" in capsys.readouterr().out


def test_generated_scores_leave_the_given_pixels_out():
    truth = np.full((1, 2, 4, 4, 3), 100, np.uint8)
    mask = np.zeros((1, 2, 4, 4), bool)
    mask[0, 1, :2] = True  # half of frame 2 is generated, 10 levels off
    generated = truth.copy()
    generated[mask] = 110
    scores = demo.generated_scores(generated, truth, mask)
    assert scores["mse"] == 100 and scores["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert scores["ssim"] is None and scores["generated_fraction"] == 1 / 4  # no whole frame was generated
    generated[0, 0, 0, 0] = 0  # a given pixel that is not the truth: the mask does not match the generation
    with pytest.raises(RuntimeError, match="task_mask no longer matches"):
        demo.generated_scores(generated, truth, mask)


def test_sample_checks_its_output_before_any_compute(tmp_path, tiny_checkpoint, monkeypatch):
    def no_compute(*args, **kwargs):
        raise AssertionError("loaded the model before checking --out")

    monkeypatch.setattr(demo, "load_model", no_compute)
    with pytest.raises(ValueError, match=r"out must end in \.mp4 or \.gif, got '.*late.txt'"):
        demo.run_sample(tiny_checkpoint, out=tmp_path / "late.txt")
    with pytest.raises(TypeError, match="checkpoint must be a path"):
        demo.run_sample("", out=tmp_path / "v.mp4")  # not the bundled model


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
