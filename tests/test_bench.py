"""Smoke tests of the benchmarks: quick runs end to end, JSON/markdown structure, a deterministic CNN, and the
naive reference equal to the library model. The studies (recipe, conditioning, scaling) are in
test_bench_studies.py. No timings are asserted (the machine is shared)."""

import json
import math
import os
import sys

import numpy as np
import pytest
import torch

from minivdt import baselines
from minivdt.apps import cli
from minivdt.apps.bench import common, quality, speed
from minivdt.apps.bench.speed import SPEED_SIZES
from minivdt.masks import make_mask
from minivdt.model import VDT

pytestmark = pytest.mark.usefixtures("one_thread")


def _positive_finite(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_cli_quick_speed_and_quality(tmp_path, tiny_checkpoint):
    md = tmp_path / "BENCHMARKS.md"
    options = ["--quick", "--out", str(tmp_path / "bench"), "--md", str(md)]
    assert cli.main(["bench", "speed", *options]) == 0
    assert cli.main(["bench", "quality", *options, "--checkpoint", str(tiny_checkpoint), "--budget-s", "0.5"]) == 0

    speed = json.loads((tmp_path / "bench" / "speed.json").read_text())
    assert [s["size"] for s in speed["sizes"]] == list(SPEED_SIZES)
    for size in speed["sizes"]:
        assert set(size["variants"]) == {"naive fp32", "fast fp32", "fast bf16"}
        for row in size["variants"].values():
            for key in ("train_clips_per_s", "sample_clips_per_s", "train_speedup", "sample_speedup",
                        "achieved_flops_per_s", "fraction_of_peak"):
                assert _positive_finite(row[key]), (key, row[key])
        assert size["variants"]["naive fp32"]["train_speedup"] == 1.0
    assert all(_positive_finite(v["flops_per_s"]) for v in speed["matmul_peak"].values())

    quality = json.loads((tmp_path / "bench" / "quality.json").read_text())
    assert set(quality["results"]) == {"drop", "roll"}
    methods = set(quality["results"]["drop"])
    assert {common.VDT_NAME, common.CNN_NAME, "copy_last_frame", "constant_velocity"} <= methods
    r = quality["results"]["drop"][common.VDT_NAME]
    assert len(r["position_error_per_step"]) == 8 and 0 <= r["lost_fraction"] <= 1
    assert quality["cnn"]["budget_s"] == 0.5 and quality["cnn"]["steps"] >= 1
    assert all(isinstance(t["met"], bool) for t in quality["targets"].values())
    assert any("drop" in name for name in quality["targets"])
    curve = quality["learning_curves"][common.CNN_NAME]
    assert curve[0]["step"] == 0 and len(curve) >= 2
    assert (tmp_path / "bench" / "learning_curves.png").stat().st_size > 0
    physics = quality["physics"]
    assert set(physics["best_of_k"]) == {"drop", "roll"} and list(physics["best_of_k"]["drop"]) == ["1", "2"]
    assert physics["best_of_k"]["drop"]["2"] <= physics["best_of_k"]["drop"]["1"]  # more samples never hurt
    counts = physics["unconditional_ball_counts"]
    assert set(counts) == {"model", "real", "ratio", "scenarios", "sampler", "steps", "by_colour", "empty_frames"}
    assert list(counts["by_colour"]) == ["red", "green", "blue"] and 0 <= counts["empty_frames"] <= 1
    assert sum(c["model"] for c in counts["by_colour"].values()) == pytest.approx(counts["model"])
    assert "unconditional samples: balls per frame within ±10 % of real clips" in quality["targets"]
    for name in ("uniform noise", "blank (no balls)"):  # reference rows: where "no information" scores
        assert quality["results"]["drop"][name]["lost_fraction"] == 1.0

    text = md.read_text()
    for heading in ("## Prediction quality", "### Targets", "### Learning curves", "## Speed", "Command: `",
                    "best-of-k", "![learning curves]("):
        assert heading in text
    for name in ("quality", "speed"):  # each section is written beside its JSON, and the page is made of them
        assert (tmp_path / "bench" / f"{name}.md").read_text() in text
    assert text.index("## Prediction quality") < text.index("## Speed")  # report.SECTIONS order, not run order
    assert speed["machine"]["torch"] == torch.__version__ and "cpu" in speed["machine"]


def test_budget_from_training_card_and_missing_budget(tmp_path, tiny_checkpoint):
    assert quality.read_card(tiny_checkpoint)["train_seconds"] == 1.0
    torch.manual_seed(0)
    VDT.from_preset("cpu-tiny", hidden_size=32, depth=1, num_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="budget_s"):
        quality.bench_quality(tmp_path, num_clips=1, scenarios=("drop",), quick=True)


def test_cnn_training_is_deterministic():
    videos = np.random.default_rng(0).integers(0, 256, (6, 16, 32, 32, 3), dtype=np.uint8)
    kwargs = dict(max_steps=3, batch_size=2, seed=1, model_kwargs=dict(hidden=8, translator_width=16,
                                                                       translator_depth=1))
    a, info = baselines.train_cnn(videos, **kwargs)
    b, _ = baselines.train_cnn(videos, **kwargs)
    assert info["steps"] == 3
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    c, _ = baselines.train_cnn(videos, **{**kwargs, "seed": 2})
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    future = baselines.cnn_predictor(a)(videos[:2, :8], None, 8)
    assert future.shape == (2, 8, 32, 32, 3) and future.dtype == np.uint8


def test_cnn_training_resumes_bit_for_bit():
    videos = np.random.default_rng(0).integers(0, 256, (6, 16, 32, 32, 3), dtype=np.uint8)
    kwargs = dict(batch_size=2, seed=1, model_kwargs=dict(hidden=8, translator_width=16, translator_depth=1))
    straight, info = baselines.train_cnn(videos, max_steps=4, **kwargs)
    saved = []
    baselines.train_cnn(videos, max_steps=2, save_state=saved.append, save_every_s=1e-9, **kwargs)
    assert [s["step"] for s in saved] == [1, 2]
    resumed, resumed_info = baselines.train_cnn(videos, max_steps=4, resume=saved[-1], **kwargs)
    assert resumed_info["steps"] == 4 and resumed_info["train_seconds"] > saved[-1]["train_seconds"]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_interrupted_cnn_curve_continues_from_its_partial_file(tmp_path, monkeypatch):
    videos = np.random.default_rng(0).integers(0, 256, (6, 16, 32, 32, 3), dtype=np.uint8)
    subset = common.eval_subset(1, scenarios=("drop",))
    kwargs = dict(budget_s=1e6, eval_every_s=None, max_steps=4, batch_size=2, save_every_s=1e-9,
                  model_kwargs=dict(hidden=8, translator_width=16, translator_depth=1))
    straight, info = quality.train_cnn_curve(videos, subset, **kwargs)
    points = info["curve"]
    partial, writes = tmp_path / "cnn.pt.partial", []
    real_write = quality.write_atomic

    def write_then_die(path, data):  # the machine goes away right after the second save
        real_write(path, data)
        writes.append(path)
        if len(writes) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(quality, "write_atomic", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        quality.train_cnn_curve(videos, subset, partial=partial, **kwargs)
    assert partial.exists()
    monkeypatch.setattr(quality, "write_atomic", real_write)
    resumed, info = quality.train_cnn_curve(videos, subset, partial=partial, **kwargs)
    resumed_points = info["curve"]
    assert info["steps"] == 4 and not partial.exists()
    assert [p["step"] for p in resumed_points] == [p["step"] for p in points] == [0, 4]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    partial.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        quality.train_cnn_curve(videos, subset, partial=partial, **kwargs)


@pytest.mark.parametrize("attention_mode", ["factorised", "joint"])
def test_naive_reference_matches_library_model(attention_mode):
    torch.manual_seed(0)
    model = VDT(input_size=16, num_frames=4, hidden_size=32, depth=2, num_heads=2, attention_mode=attention_mode)
    with torch.no_grad():  # move the zero-initialised gates off zero so attention reaches the output
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    reference = speed.naive_reference(model)
    assert all(not m.fused for m in reference.modules() if hasattr(m, "fused"))
    assert all(m.fused for m in model.modules() if hasattr(m, "fused"))
    g = torch.Generator().manual_seed(0)
    x, video = torch.randn(2, 4, 3, 16, 16, generator=g), torch.randn(2, 4, 3, 16, 16, generator=g)
    mask = make_mask("predict", 2, 4, 16, 16, num_given=2, patch_size=4)
    args = (x, torch.tensor([3, 700]), video * (1 - mask), mask)
    with torch.no_grad():
        torch.testing.assert_close(reference(*args), model(*args), atol=1e-5, rtol=1e-5)


def test_learning_curve_from_log_reads_the_eval_points_of_a_run_log(tmp_path):
    lines = [dict(step=5, seconds=1.0, loss=0.3), dict(step=10, seconds=2.5, position_error=4.0),
             dict(step=20, seconds=5.0, position_error=3.0, one_shot_position_error=2.0)]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    points = quality.learning_curve_from_log(tmp_path)  # a run folder: its log.jsonl
    assert points == [dict(seconds=2.5, step=10, position_error=4.0), dict(seconds=5.0, step=20, position_error=3.0)]
    assert quality.learning_curve_from_log(tmp_path / "log.jsonl", "one_shot_position_error")[0]["position_error"] == 2.0
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="not a JSON-lines"):
        quality.learning_curve_from_log(tmp_path / "bad.jsonl")


def test_cnn_run_is_saved_and_reused_only_for_the_same_budget(tmp_path):
    """`bench quality --cnn-run FOLDER` keeps the SimVP as a baselines.save_cnn folder (its learning curve in its
    info) and reads it back only for the budget it was trained for."""
    videos = np.random.default_rng(0).integers(0, 255, (6, 16, 32, 32, 3), dtype=np.uint8)
    model, info = baselines.train_cnn(videos, max_steps=1, batch_size=2, seed=0,
                                      model_kwargs=dict(hidden=8, translator_width=16, translator_depth=1))
    curve = [{"seconds": 0.0, "step": 0, "position_error": 1.0}]
    folder = baselines.save_cnn(model, tmp_path / "cnn", dict(info, budget_s=5.0, curve=curve))
    loaded, loaded_info = quality.load_cnn_run(folder, budget_s=5.0)
    assert loaded_info["steps"] == 1 and loaded_info["curve"] == curve
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="trained for 5.0 s"):
        quality.load_cnn_run(folder, budget_s=6.0)
    (folder / baselines.CNN_WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):  # a CheckpointError
        quality.load_cnn_run(folder, budget_s=5.0)


def test_sampler_choice_is_measured_on_val_and_becomes_the_models_default(tmp_path, tiny_checkpoint):
    """`bench sampler --write-card` scores each candidate on validation clips, picks the lowest mean position
    error, and records it in the card; sampling_of (used by demo and bench quality) then returns it."""
    from minivdt.apps.bench import sampler
    from minivdt.cards import sampling_of
    from minivdt.diffusion import DEFAULT_SAMPLER, DEFAULT_STEPS

    folder = tmp_path / "model"
    folder.mkdir()
    for f in tiny_checkpoint.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    assert sampling_of(folder) == (DEFAULT_SAMPLER, DEFAULT_STEPS)  # no choice recorded yet
    assert sampling_of(folder, "unconditional") == (DEFAULT_SAMPLER, DEFAULT_STEPS)
    with pytest.raises(ValueError, match="task must be"):
        sampling_of(folder, "backward")
    argv = ["bench", "sampler", "--checkpoint", str(folder), "--candidates", "ddim:1", "ddpm:2", "--num-val", "1",
            "--write-card", "--out", str(tmp_path / "bench"), "--md", str(tmp_path / "B.md")]
    assert cli.main(argv) == 0
    result = json.loads((tmp_path / "bench" / "sampler.json").read_text())
    assert [(r["sampler"], r["steps"]) for r in result["rows"]] == [("ddim", 1), ("ddpm", 2)]
    best = min(result["rows"], key=lambda r: (round(r["mean_position_error"], 2), r["steps"]))
    # unconditional generation: the candidate whose samples hold as many balls per frame as real clips
    fullest = min(result["rows"], key=lambda r: (round(abs(r["unconditional"]["ratio"] - 1), 2), r["steps"]))
    assert all(r["unconditional"]["seeds"] == [1, 2] for r in result["rows"])  # not bench quality's seed 0
    assert result["choice"] == {"sampler": best["sampler"], "steps": best["steps"],
                                "unconditional": {"sampler": fullest["sampler"], "steps": fullest["steps"]}}
    assert sampling_of(folder) == (best["sampler"], best["steps"])
    assert sampling_of(folder, "unconditional") == (fullest["sampler"], fullest["steps"])
    assert json.loads((folder / "training.json").read_text())["train_seconds"] == 1.0  # the rest of the card kept
    assert "## Sampler" in (tmp_path / "B.md").read_text()
    with pytest.raises(ValueError, match="NAME:STEPS"):
        sampler.parse_candidate("ddim:0")


def test_quality_without_the_cnn_reports_its_targets_as_not_measured(tmp_path, tiny_checkpoint):
    q = quality.bench_quality(tiny_checkpoint, num_clips=1, scenarios=("drop",), steps=1, quick=True, cnn=False,
                              progress=lambda *_: None)
    assert q["cnn"] is None and quality.CNN_NAME not in q["results"]["drop"]
    stretch = {name: t for name, t in q["targets"].items() if "stretch" in name}
    assert len(stretch) == 2 and all(t["measured"] is False for t in stretch.values())
    assert all(quality.target_verdict(t) == "not measured" for t in stretch.values())


def test_laptop_gpu_runs_merge_by_patch_size_and_length_and_the_section_tables_each_run():
    """Each GPU loan adds one run; a rerun at the same patch and length replaces it, a longer run is a new point;
    the first file format counts as a run. The section tables the probes and one row per run."""
    import importlib.util

    from minivdt.apps.bench.laptop_gpu import render
    from minivdt.course import ASSETS

    spec = importlib.util.spec_from_file_location("laptop_gpu_check", ASSETS / "laptop_gpu_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)

    def run(patch, error, date, seconds=90.2):
        val = {s: {"laptop-gpu DDIM-1": {"position_error": error}, "laptop-gpu DDPM-25": {"position_error": 9.0},
                   "bundled cpu-tiny DDIM-1": {"position_error": 1.2},
                   "copy_last_frame": {"position_error": 3.0}, "constant_velocity": {"position_error": 2.0 + s}}
               for s in (0, 1)}
        return dict(gpu="G", torch="t", model={"patch_size": patch, "hidden_size": 256, "depth": 8},
                    peak_memory_gib=1.0, steps=100, train_seconds=seconds, steps_per_second=1.1,
                    estimated_minutes_for_preset=3.0, num_val_per_scenario=4, wall_seconds=99.0, val=val,
                    date=date, command="c")

    def probe(patch, gib):
        return dict(patch_size=patch, tokens_per_clip=4096 // patch ** 2 * 4, peak_memory_gib=gib,
                    seconds_per_step=0.1)

    head = dict(section="laptop_gpu", preset="laptop-gpu", batch_size=64, mixed_precision="auto",
                preset_max_steps=20000, machine="x86_64")
    first_format = {**head, **run(4, 1.0, "d1"), "probes": [probe(4, 9.6), probe(8, 3.0)]}
    merged = check.merge(first_format, {**head, "probes": [probe(8, 2.7)], "runs": [run(8, 2.5, "d2")]})
    assert [r["model"]["patch_size"] for r in merged["runs"]] == [4, 8]
    assert [(p["patch_size"], p["peak_memory_gib"]) for p in merged["probes"]] == [(4, 9.6), (8, 2.7)]
    again = check.merge(merged, {**head, "probes": [], "runs": [run(8, 1.5, "d3", seconds=89.9)]})
    assert [r["date"] for r in again["runs"]] == ["d1", "d3"]
    longer = check.merge(merged, {**head, "probes": [], "runs": [run(8, 1.1, "d4", seconds=270.0)]})
    assert [(r["date"], check.run_key(r)) for r in longer["runs"]] == [("d1", (4, 1.5)), ("d2", (8, 1.5)),
                                                                       ("d4", (8, 4.5))]

    text = render(merged, "BENCHMARKS.md")
    assert "the preset's patch is 8." in text and "each scored on 4 validation clips per scenario" in text
    assert "| 4 | 1024 | 9.6 GiB | 0.100 | 33 min |" in text  # a probe per patch size: memory and speed
    # one summary row per run: its mean one-step error, the bundled model's on the same clips, scenarios won
    assert "| 4 | 1.5 | 100 | 1.00 | 1.20 | 2 of 2 |" in text and "| 8 | 1.5 | 100 | 2.50 | 1.20 | 1 of 2 |" in text
    assert "| 8 | 4.5 | 100 | 1.10 | 1.20 | 2 of 2 |" in render(longer, "BENCHMARKS.md")


@pytest.mark.parametrize("argv0, expected", [("/venv/bin/minivdt", "minivdt bench speed"),
                                             ("/work/minivdt/apps/cli.py", "minivdt bench speed"),
                                             ("assets/other.py", "assets/other.py bench speed")])
def test_stamp_records_the_command_as_a_user_would_type_it(monkeypatch, argv0, expected):
    """`python -m minivdt.apps.cli` is the `minivdt` command; any other script is recorded with its path."""
    monkeypatch.setattr(sys, "argv", [argv0, "bench", "speed"])
    assert common.stamp()["command"].endswith(expected)
    assert common.stamp()["command"].startswith("minivdt") == expected.startswith("minivdt")


def test_real_ball_fractions_simulate_the_reference_clips_once(monkeypatch):
    """Every sampler candidate and every snapshot compares with the same real clips: simulated and tracked once."""
    from minivdt.apps.bench import physics
    from minivdt.world import WorldConfig, make_clips

    calls = []
    monkeypatch.setattr(physics, "make_clips", lambda *a, **k: calls.append(a[0]) or make_clips(*a, **k))
    physics._real_ball_fractions.cache_clear()
    first = physics.real_ball_fractions(3, WorldConfig(), ("drop", "collide"))
    assert calls == ["drop", "collide"]
    assert physics.real_ball_fractions(3, WorldConfig(), ("drop", "collide")) == first and len(calls) == 2
    assert sum(first) == pytest.approx((1 + 2) / 2, abs=0.1)  # one ball in drop, two in collide
    physics.real_ball_fractions(3, WorldConfig(gravity=0.02), ("drop", "collide"))  # another world: its own clips
    assert len(calls) == 4


def test_unconditional_counts_say_which_balls_are_missing(monkeypatch):
    """by_colour: the share of frames holding each colour, in the samples and in real clips; empty_frames: sample
    frames with no ball. A 'model' that returns real drop clips with the red ball erased from half of every clip's
    frames finds red in half the frames and no ball there."""
    from minivdt.apps.bench import physics
    from minivdt.data import split_seeds
    from minivdt.world import BACKGROUND_COLOR, WorldConfig, make_clips

    config = WorldConfig()
    frames = make_clips("drop", split_seeds("val", 4), config).frames.copy()  # one red ball per clip
    frames[:, ::2] = BACKGROUND_COLOR  # every other frame: nothing
    monkeypatch.setattr(physics, "generate", lambda model, blank, task, **kw: frames[: len(blank)])
    counts = physics.unconditional_ball_counts(None, 4, 1, 0, config, scenarios=("drop",))
    assert counts["by_colour"]["red"] == pytest.approx(dict(model=0.5, real=1.0))
    assert counts["by_colour"]["green"] == dict(model=0.0, real=0.0)
    assert counts["empty_frames"] == 0.5 and counts["model"] == pytest.approx(0.5) and counts["ratio"] == 0.5
    text = "\n".join(physics.physics_markdown(dict(
        best_of_k={"drop": {"1": 1.0}}, unconditional_ball_counts=dict(counts, sampler="ddim", steps=1),
        context_sensitivity={})))
    assert "red 0.50 vs 1.00, green 0.00 vs 0.00, blue 0.00 vs 0.00; sample frames with no ball at all: 50%." in text


def test_benchmarks_page_shows_paths_inside_the_repository_relative_to_it(tmp_path):
    """BENCHMARKS.md must not carry the measuring machine's folders: a checkpoint inside the page's folder is shown
    relative to it; a path elsewhere, or a non-path ("argument"), is shown as given."""
    page = tmp_path / "repo" / "BENCHMARKS.md"
    inside = tmp_path / "repo" / "assets" / "vdt-cpu-tiny"
    assert common.shown(str(inside), page) == os.path.join("assets", "vdt-cpu-tiny")
    assert common.shown(str(tmp_path / "elsewhere"), page) == str(tmp_path / "elsewhere")
    assert common.shown("argument", page) == "argument"
