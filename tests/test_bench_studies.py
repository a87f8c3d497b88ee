"""Smoke tests of the studies behind BENCHMARKS.md (study.py): the recipe study (screen and final stage), the
conditioning race and the scaling sweep. Quick runs end to end, resumption, the paired comparison and the tables
their sections print. No timings are asserted (the machine is shared)."""

import json
import math

import pytest

from minivdt.apps import cli
from minivdt.apps.bench import common

pytestmark = pytest.mark.usefixtures("one_thread")


def test_conditioning_race_is_three_recipe_arms_at_equal_cpu_budget(tmp_path):
    """`bench conditioning --quick`: one recipe arm per cond_mode (concat is the base arm), a 4-point curve each,
    and BENCHMARKS.md's section with each mode's error at every point; the arms land in the recipe runs folder."""
    out = tmp_path / "out"
    argv = ["bench", "conditioning", "--quick", "--runs", str(tmp_path / "runs"), "--out", str(out),
            "--md", str(tmp_path / "B.md")]
    assert cli.main(argv) == 0
    race = json.loads((out / "conditioning.json").read_text())
    assert set(race["curves"]) == {"adaln", "cross_attn", "concat"}
    assert {m["arm"] for m in race["modes"].values()} == {"x0-high_noise", "x0-high_noise-adaln",
                                                          "x0-high_noise-cross_attn"}
    for curve in race["curves"].values():
        assert len(curve) == 4 and all(0 <= p["sampled"] <= 8 and math.isfinite(p["swap"]) for p in curve)
    assert len(list((tmp_path / "runs").glob("x0-high_noise*__s0__2cpu_s__1val.json"))) == 3
    text = (tmp_path / "B.md").read_text()
    concat = " / ".join(f"{p['sampled']:.2f}" for p in race["curves"]["concat"])
    assert "## Conditioning race" in text and f"| {race['modes']['concat']['final']['mean_position_error']:.2f} | " \
        f"{concat} |" in text


def test_scaling_sweep_quick_trains_every_size_for_the_same_steps(tmp_path):
    out = tmp_path / "out"
    argv = ["bench", "scaling", "--quick", "--runs", str(tmp_path / "runs"), "--out", str(out),
            "--md", str(tmp_path / "B.md")]
    assert cli.main(argv) == 0
    scaling = json.loads((out / "scaling.json").read_text())
    from minivdt.apps.bench.scaling import SIZES

    assert [r["size"] for r in scaling["rows"]] == list(SIZES)
    assert len({r["steps"] for r in scaling["rows"]}) == 1  # equal steps, not equal time
    patch4 = next(r for r in scaling["rows"] if r["size"] == "D64-d2-p4")
    assert patch4["tokens_per_frame"] == 64 and patch4["gflops"] > scaling["rows"][0]["gflops"]
    text = (tmp_path / "B.md").read_text()
    assert "## Quality against compute" in text
    assert text.index("| D192-d4-p8 |") < text.index("| D64-d2-p4 |")  # rows in order of GFLOPs (quick: p4 most)


def test_recipe_study_quick_and_resumable(tmp_path, capsys):
    """Two arms for a few CPU seconds: a curve of 4 scored points each, a table, a plot and BENCHMARKS.md's section;
    run again, finished arms are read back instead of retrained."""
    argv = ["bench", "recipe", "--quick", "--arms", "regressor", "x0-uniform", "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path), "--md", str(tmp_path / "B.md")]
    assert cli.main(argv) == 0
    section = json.loads((tmp_path / "recipe.json").read_text())
    assert [r["arm"] for r in section["rows"]] == ["x0-uniform", "regressor"]  # ARMS order
    for row in section["rows"]:
        assert row["steps"] > 0 and set(row["position_error"]) == {"drop", "projectile", "roll", "collide"}
        for key in ("mean_position_error", "x0_error_T", "x0_error_half", "context_sensitivity"):
            assert math.isfinite(row[key])
        assert set(row["other_tasks"]) == {"backward", "interpolate"}  # scored at the end of the budget
        assert all(0 <= e <= 8.0 for e in row["other_tasks"].values())
    assert all(len(points) == 4 for points in section["curves"].values())
    assert "## Recipe study" in (tmp_path / "B.md").read_text() and (tmp_path / "recipe_curves.png").is_file()
    finished = sorted((tmp_path / "runs").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in finished]
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "arm regressor" not in capsys.readouterr().out  # not trained again
    assert [p.stat().st_mtime_ns for p in finished] == stamps


def test_recipe_final_stage_is_its_own_section_with_paired_rows_for_every_task(tmp_path):
    """`--stage final` (several seeds): recipe_final.json and its own BENCHMARKS.md section, with the paired
    comparison against x0-high_noise for forward prediction, backward prediction and interpolation. Before that,
    `--no-run` reports the study while one seed of x0-uniform is still missing: it trains nothing, and the arm
    is listed as unfinished instead of entering the tables with one seed. `bench report` renders it again."""
    common = ["bench", "recipe", "--quick", "--stage", "final", "--runs", str(tmp_path / "runs"),
              "--out", str(tmp_path), "--md", str(tmp_path / "B.md")]
    assert cli.main(common + ["--seeds", "0", "1", "--arms", "x0-high_noise"]) == 0
    assert cli.main(common + ["--seeds", "0", "--arms", "x0-uniform"]) == 0
    finished = sorted((tmp_path / "runs").glob("*.json"))
    assert cli.main(common + ["--no-run", "--seeds", "0", "1", "--arms", "x0-high_noise", "x0-uniform"]) == 0
    assert sorted((tmp_path / "runs").glob("*.json")) == finished  # nothing trained
    section = json.loads((tmp_path / "recipe_final.json").read_text())
    assert [row["arm"] for row in section["rows"]] == ["x0-high_noise"] and section["paired"] == []
    assert section["unfinished"] == {"x0-uniform": 1}
    assert "Not finished yet, so not in the tables (seeds done of 2): x0-uniform (1)." in (tmp_path / "B.md").read_text()

    argv = common + ["--seeds", "0", "1", "--arms", "x0-high_noise", "x0-uniform"]
    assert cli.main(argv) == 0
    section = json.loads((tmp_path / "recipe_final.json").read_text())
    assert not (tmp_path / "recipe.json").exists()
    assert all(row["seeds"] == [0, 1] for row in section["rows"]) and section["unfinished"] == {}
    runs = [json.loads(p.read_text())["curve"] for p in sorted((tmp_path / "runs").glob("x0-high_noise__s*.json"))]
    assert len(runs) == 2  # the curve is the seeds' mean, point by point
    assert [p["sampled"] for p in section["curves"]["x0-high_noise"]] == pytest.approx(
        [(a["mean_position_error"] + b["mean_position_error"]) / 2 for a, b in zip(*runs)])
    paired = {p["task"]: p for p in section["paired"]}
    assert set(paired) == {"predict", "backward", "interpolate"}
    assert all(p["arm"] == "x0-uniform" and p["seeds"] == [0, 1] and p["clips"] == 4 for p in paired.values())
    text = (tmp_path / "B.md").read_text()
    assert "## Recipe study, final comparison" in text and "| x0-uniform | interpolate | 0 1 | 4 |" in text
    assert text.count("| x0-uniform | ") == 4  # its row (with the other tasks), one paired row per task
    assert (tmp_path / "recipe_final_curves.png").is_file()

    # `bench report` writes the sections again from their JSON files, training nothing: the same page
    (tmp_path / "B.md").unlink()
    assert cli.main(["bench", "report", "--out", str(tmp_path), "--md", str(tmp_path / "B.md")]) == 0
    assert (tmp_path / "B.md").read_text() == text


@pytest.mark.parametrize("task, generated", [("predict", range(8, 16)), ("backward", range(0, 8)),
                                             ("interpolate", range(4, 12))])
def test_sampled_error_scores_only_the_frames_a_task_generates(monkeypatch, task, generated):
    """A sampler that returns the truth scores ~0 px; one that leaves every generated frame blank loses every ball,
    which it could not if a given (true) frame were among the scored ones."""
    from types import SimpleNamespace

    from minivdt.apps.bench import study

    clips = common.eval_subset(2, scenarios=("projectile",))["projectile"]
    model = SimpleNamespace(cfg=SimpleNamespace(num_frames=16, height=32, width=32, patch_size=8),
                            config=SimpleNamespace(prediction_type="sample"))
    seen = {}

    def truth(model, video, mask, *args, **kwargs):
        seen["generated"] = [f for f in range(16) if mask[0, f].max() == 1]
        return video

    monkeypatch.setattr(study, "sample", truth)
    errors, lost = study.sampled_error(model, clips, task=task)
    assert seen["generated"] == list(generated)
    assert errors.shape == (2,) and errors.max() < 0.5 and lost == 0.0
    monkeypatch.setattr(study, "sample", lambda model, video, mask, *a, **k: video * (1 - mask) - mask)
    errors, lost = study.sampled_error(model, clips, task=task)
    assert lost == 1.0 and errors.min() == pytest.approx(8.0)


def test_latent_recipe_arm_trains_on_latents_and_scores_decoded_frames(tmp_path, monkeypatch):
    """The pixel-vs-latent arm: the tokenizer's training is inside the budget, the VDT it trains sees latents, and
    its scores are those of decoded frames (finite, on the pixel tracker's scale)."""
    from minivdt.apps.bench import recipe, study

    seen = {}
    real_score = study.score

    def spy(model, val, steps=25, vae=None, other_tasks=False):
        seen.update(in_channels=model.config.in_channels, input_size=model.config.input_size, vae=vae)
        return real_score(model, val, steps, vae, other_tasks)

    monkeypatch.setattr(study, "score", spy)
    val = common.eval_subset(1, scenarios=study.VAL_SCENARIOS)
    result = study.run_arm("x0-high_noise-latent", recipe.ARMS["x0-high_noise-latent"], 0, 2.0, val, tmp_path,
                           steps=1, num_train_clips=20, model_overrides=common.QUICK_MODEL)
    assert seen["vae"] is not None and seen["in_channels"] == seen["vae"].config.latent_channels
    assert seen["input_size"] == 16  # 32 x 32 frames, 2x down
    assert (tmp_path / "x0-high_noise-latent__s0" / "tokenizer" / "config.json").is_file()
    final = result["final"]
    assert 0 <= final["mean_position_error"] <= 8.0 and math.isfinite(final["x0_error_T"])


def test_paired_comparison_pairs_clips_and_averages_seeds():
    """Δ = arm − reference clip by clip (mean over the seeds both ran); the SE is that of the paired differences."""
    from minivdt.apps.bench.study import paired_comparison

    def result(arm, seed, drop, roll, num_val=2):
        return dict(arm=arm, seed=seed, budget_cpu_s=10.0, num_val_per_scenario=num_val,
                    final=dict(per_clip_error={"drop": drop, "roll": roll}))

    results = [result("x0-high_noise", 0, [4.0, 5.0], [1.0, 1.0]), result("x0-high_noise", 1, [4.0, 3.0], [1.0, 3.0]),
               result("v-uniform", 0, [5.0, 6.0], [2.0, 2.0]), result("v-uniform", 1, [5.0, 4.0], [2.0, 4.0]),
               result("eps-uniform", 7, [8.0, 8.0], [8.0, 8.0]),  # no seed in common with the reference: left out
               result("x0-uniform", 0, [1.0], [1.0], num_val=1)]
    design = [r for r in results if r["num_val_per_scenario"] == 2]  # one study design: the same validation clips
    rows = paired_comparison(design)
    assert [r["arm"] for r in rows] == ["v-uniform"]
    assert rows[0]["seeds"] == [0, 1] and rows[0]["clips"] == 4
    assert rows[0]["difference"] == pytest.approx(1.0) and rows[0]["se"] == pytest.approx(0.0)
    for r in results:  # another task's per-clip errors pair the same way
        r["final"]["backward"] = dict(per_clip_error={s: [e + 1 for e in v] for s, v in r["final"]["per_clip_error"].items()})
    results[2]["final"]["backward"]["per_clip_error"]["drop"][0] += 4.0
    rows = paired_comparison(design, task="backward")
    assert rows[0]["task"] == "backward" and rows[0]["difference"] == pytest.approx(1.0 + 4.0 / 2 / 4)


def test_paired_word_separates_arms_by_their_paired_standard_error():
    from minivdt.apps.bench.recipe import paired_word

    assert [paired_word(dict(difference=d, se=0.05)) for d in (-0.30, -0.06, 0.25, 0.01)] == [
        "better", "within 2 SE", "worse", "within 2 SE"]
    assert paired_word(dict(difference=-0.30, se=0.1), z=3.0) == "within 3 SE"


def test_recipe_table_shows_the_other_tasks_only_where_they_were_scored(tmp_path):
    """A screen row without backward/interpolate scores gets no such columns; a final row has them, a dash where
    an arm lacks one."""
    from minivdt.apps.bench.recipe import render

    row = dict(arm="x0-high_noise", seeds=[0], budget_cpu_s=10.0, steps=5, mean_position_error=4.5,
               position_error={"drop": 4.5}, lost=0.1, x0_error_T=3.0, x0_error_half=2.0, context_sensitivity=2.0)
    screen = dict(section="recipe", rows=[row], base={"batch_size": 16}, num_val_per_scenario=16, **common.stamp())
    text = render(screen, tmp_path / "B.md")
    assert text.startswith("## Recipe study (") and "base recipe (batch_size=16)" in text and "A screen" in text
    assert "backward px" not in text
    assert "| x0-high_noise | 1 | 10 | 5 | 4.50 | 4.50 | 0.10 | 3.00 | 2.00 | +2.00 |" in text
    final = dict(screen, section="recipe_final", rows=[dict(row, other_tasks={"backward": 5.0}), row])
    text = render(final, tmp_path / "B.md")
    assert "| swap px | backward px |" in text and "| +2.00 | 5.00 |" in text and "| +2.00 | — |" in text
    assert "A screen" not in text
