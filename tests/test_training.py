"""Training loop: checkpoints, exact resume, NaN handling, bad configs, multi-process through accelerate."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from minivdt import cards, training
from minivdt.checkpoints import read_state
from minivdt.training import export_model, load_model, make_train_config, read_log, train


def _weights(run_dir, which="model"):
    return load_file(os.path.join(run_dir, "checkpoint", which, "diffusion_pytorch_model.safetensors"))


def test_smoke_run_writes_checkpoint_and_log(tmp_path):
    cfg = make_train_config("smoke", out_dir=str(tmp_path / "run"))
    result = train(cfg, progress=False)
    assert result.step == cfg.max_steps and len(result.losses) == cfg.max_steps
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert [line["step"] for line in read_log(tmp_path / "run")] == list(range(1, cfg.max_steps + 1))
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["step"] == cfg.max_steps
    model = load_model(tmp_path / "run")  # a run folder loads its EMA weights
    assert model.config.hidden_size == 32


def test_resume_continues_exactly(tmp_path):
    straight = make_train_config("smoke", out_dir=str(tmp_path / "straight"), max_steps=4)
    train(straight, progress=False)
    interrupted = make_train_config("smoke", out_dir=str(tmp_path / "resumed"), max_steps=2)
    train(interrupted, progress=False)
    resumed = make_train_config("smoke", out_dir=str(tmp_path / "resumed"), max_steps=4)
    result = train(resumed, resume=True, progress=False)
    assert result.step == 4 and len(result.losses) == 2  # only the two missing steps were run
    for which in ("model", "ema"):
        a, b = _weights(tmp_path / "straight", which), _weights(tmp_path / "resumed", which)
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), f"{which}.{name} differs after resume"
    log = read_log(tmp_path / "resumed")
    assert [line["step"] for line in log] == [1, 2, 3, 4]
    seconds = [line["seconds"] for line in log]
    assert seconds == sorted(seconds)  # training time counts on across the interruption
    state = read_state(tmp_path / "resumed" / "checkpoint")
    assert result.seconds < state["train_seconds"] <= result.total_seconds  # the first session's time is kept


def test_export_writes_model_and_training_card(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=2), progress=False)
    dest = training.export_model(tmp_path / "run", tmp_path / "exported")
    card = json.loads((dest / "training.json").read_text())
    assert card["steps"] == 2 and card["train_seconds"] >= 0 and card["num_train_clips"] == 32
    assert "diffusion_pytorch_model.safetensors" in (dest / "SHA256SUMS").read_text()  # verified on every load
    exported, from_run = load_model(dest), load_model(tmp_path / "run")
    for a, b in zip(exported.parameters(), from_run.parameters()):
        assert torch.equal(a, b)
    assert "init" not in card
    # a fine-tune of that model, exported over it: its card keeps the starting model's training, so a benchmark can
    # give a baseline the whole training time (cards.total_train_seconds)
    train(make_train_config("smoke", out_dir=str(tmp_path / "tune"), max_steps=1, init_from=str(dest)), progress=False)
    tuned = json.loads((training.export_model(tmp_path / "tune", dest) / "training.json").read_text())
    assert tuned["steps"] == 1 and tuned["init"]["steps"] == 2
    assert tuned["init"]["train_seconds"] == pytest.approx(card["train_seconds"])
    assert cards.total_train_seconds(tuned) == pytest.approx(tuned["train_seconds"] + card["train_seconds"])


def test_runs_with_different_precisions_in_one_process(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "bf16"), max_steps=1, mixed_precision="bf16"),
          progress=False)
    result = train(make_train_config("smoke", out_dir=str(tmp_path / "fp32"), max_steps=1, mixed_precision="no"),
                   progress=False)
    assert result.step == 1


def test_resume_refuses_a_different_config(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=2), progress=False)
    changed = make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=4, weight_decay=0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        train(changed, resume=True, progress=False)


def test_resume_accepts_a_new_learning_rate_and_records_it(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=2), progress=False)
    lowered = make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=3, learning_rate=1e-5,
                                checkpoint_every=1, log_every=2)
    train(lowered, resume=True, progress=False)
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["train_config"]["learning_rate"] == 1e-5
    assert [group["lr"] for group in state["optimizer"]["param_groups"]] == [1e-5]  # warm-up (1 step) is over
    assert read_log(tmp_path / "run")[-1] == {**read_log(tmp_path / "run")[-1], "step": 3, "lr": 1e-5}


def test_resume_accepts_a_new_task_mix_and_records_from_which_step(tmp_path):
    """A fine-tune on one task (e.g. more unconditional generation) continues the run; the card says when."""
    run = tmp_path / "run"
    train(make_train_config("smoke", out_dir=str(run), max_steps=2), progress=False)
    mix = {"predict": 0.5, "unconditional": 0.5}
    train(make_train_config("smoke", out_dir=str(run), max_steps=4, task_weights=mix), resume=True, progress=False)
    train(make_train_config("smoke", out_dir=str(run), max_steps=5, task_weights=mix), resume=True, progress=False)
    phases = read_state(run / "checkpoint")["task_weight_phases"]
    assert [p["from_step"] for p in phases] == [0, 2]
    assert phases[0]["task_weights"] == make_train_config("smoke").task_weights and phases[1]["task_weights"] == mix
    card = json.loads((export_model(run, tmp_path / "export") / "training.json").read_text())
    assert card["task_weights"] == phases and card["steps"] == 5


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss = training.training_loss
    calls = {"n": 0}

    def loss_that_explodes(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 4 else loss

    monkeypatch.setattr(training, "training_loss", loss_that_explodes)
    cfg = make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=4, checkpoint_every=2)
    # the checkpoint of step 2 is written once step 3's loss (computed with its weights) is finite
    with pytest.raises(FloatingPointError, match="at step 3.*checkpoint of step 2.*--learning-rate"):
        train(cfg, progress=False)
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in _weights(tmp_path / "run").values())


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=2), progress=False)
    weights = tmp_path / "run" / "checkpoint" / "ema" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path / "nowhere")


def test_mismatched_checkpoint_gives_clear_error(tmp_path):
    train(make_train_config("smoke", out_dir=str(tmp_path / "run"), max_steps=2), progress=False)
    config_path = tmp_path / "run" / "checkpoint" / "ema" / "config.json"
    config = json.loads(config_path.read_text())
    config["hidden_size"] = 64  # the weights are for 32
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json is corrupt: its SHA-256 differs"):
        load_model(tmp_path / "run")
    (config_path.parent / "SHA256SUMS").unlink()  # no checksums: refused, never loaded unchecked
    with pytest.raises(ValueError, match="SHA256SUMS is missing"):
        load_model(tmp_path / "run")



@pytest.mark.parametrize("field,value,message", [
    ("model_preset", "huge", "model_preset"),
    ("task_weights", {"teleport": 1.0}, "teleport"),
    ("mixed_precision", "fp8", "mixed_precision"),
])
def test_bad_train_config(field, value, message):
    with pytest.raises(ValueError, match=message):
        make_train_config("smoke", **{field: value})
    with pytest.raises(ValueError, match="preset"):
        make_train_config("no-such-preset")


def test_batches_are_a_function_of_seed_and_step():
    cfg = make_train_config("smoke")
    videos = torch.randint(0, 255, (8, 16, 32, 32, 3), dtype=torch.uint8)
    x_a, m_a, _ = training.make_batch(videos, cfg, step=5, rank=0, num_processes=1)
    x_b, m_b, _ = training.make_batch(videos, cfg, step=5, rank=0, num_processes=1)
    x_c, _, _ = training.make_batch(videos, cfg, step=6, rank=0, num_processes=1)
    assert torch.equal(x_a, x_b) and torch.equal(m_a, m_b) and not torch.equal(x_a, x_c)
    halves = [training.make_batch(videos, cfg, step=5, rank=r, num_processes=2)[0] for r in (0, 1)]
    assert torch.equal(torch.cat(halves), x_a)  # two processes split exactly the single-process batch


def test_two_process_accelerate_run(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "minivdt.apps.cli", "train", "--preset", "smoke", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained to step 4" in done.stdout
    state = read_state(out / "checkpoint")
    assert state["step"] == 4
    model = load_model(out)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_auto_mixed_precision_uses_bf16_on_a_cpu_only_where_it_has_bf16_units(monkeypatch):
    assert isinstance(training.cpu_has_bf16(), bool)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(training, "cpu_has_bf16", lambda: False)
    assert training.resolve_mixed_precision("auto") == "no"  # emulated bf16 ran ~400x slower than fp32
    monkeypatch.setattr(training, "cpu_has_bf16", lambda: True)
    assert training.resolve_mixed_precision("auto") == "bf16"
    assert training.resolve_mixed_precision("no") == "no"


def test_progress_bars_refresh_at_most_once_a_second():
    """A notebook cell whose bars refresh thousands of times overflows the kernel's output queue and nbval stops
    the lesson (it happened in lesson 6 on a GPU): every loop's bar must refresh about once a second."""
    import io
    import re
    import time as clock

    from minivdt.progress import MIN_INTERVAL_S, progress_bar

    out = io.StringIO()
    start = clock.perf_counter()
    bar = progress_bar(range(3000), file=out)
    for i in bar:
        clock.sleep(0.0005)
        bar.set_postfix(loss=i, refresh=False)
    bar.close()
    elapsed = clock.perf_counter() - start
    refreshes = out.getvalue().count("\r")
    assert refreshes <= elapsed / MIN_INTERVAL_S + 3, (refreshes, elapsed)
    # and no library loop builds its own bar
    package = Path(__file__).resolve().parent.parent / "minivdt"
    direct = [p.name for p in package.rglob("*.py")
              if p.name != "progress.py" and re.search(r"\btqdm\(", p.read_text())]
    assert direct == []


def test_training_clips_are_simulated_once_per_process_for_the_same_config():
    """A probe run and the run after it share one training set; another set replaces it."""
    first = training.load_training_videos(make_train_config("smoke"))
    assert training.load_training_videos(make_train_config("smoke", learning_rate=1e-5)) is first
    other = training.load_training_videos(make_train_config("smoke", num_train_clips=10))
    assert other is not first and len(other) != len(first)
    assert torch.equal(training.load_training_videos(make_train_config("smoke")), first)  # rebuilt identically
