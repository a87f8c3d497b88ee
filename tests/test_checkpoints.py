"""Checkpoints survive crashes and refuse what they cannot trust: recovery after a kill between the renames,
the run lock, log trimming, strict and checksummed loads, and resuming today's format."""

import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from minivdt import checkpoints
from minivdt.checkpoints import CheckpointError, RunLockedError, load_model, read_state
from minivdt.training import make_train_config, read_log, train


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even `except Exception` handlers."""


def _smoke(out, **overrides):
    return make_train_config("smoke", out_dir=str(out), **overrides)


def _same_weights(run_a, run_b):
    a, b = load_model(run_a), load_model(run_b)
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_kill_between_the_renames_resumes_from_the_newest_complete_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_rename = os.rename

    def rename(src, dst):  # die right after checkpoint -> checkpoint.old, before checkpoint.tmp -> checkpoint
        if str(src).endswith("checkpoint.tmp") and (run / "checkpoint.old").exists():
            raise Killed
        real_rename(src, dst)

    monkeypatch.setattr(checkpoints.os, "rename", rename)
    with pytest.raises(Killed):
        train(_smoke(run, max_steps=4, checkpoint_every=2), progress=False)
    monkeypatch.setattr(checkpoints.os, "rename", real_rename)
    assert not (run / "checkpoint").exists()  # what the kill left: the step-2 .old and the complete step-4 .tmp
    assert read_state(run / "checkpoint.old")["step"] == 2 and read_state(run / "checkpoint.tmp")["step"] == 4
    assert load_model(run).config.hidden_size == 32  # a run folder still loads (from the complete .tmp)

    result = train(_smoke(run, max_steps=6, checkpoint_every=2), resume=True, progress=False)
    assert result.step == 6 and len(result.losses) == 2  # resumed at step 4, nothing lost
    assert [line["step"] for line in read_log(run)] == [1, 2, 3, 4, 5, 6]
    train(_smoke(tmp_path / "straight", max_steps=6, checkpoint_every=2), progress=False)
    assert _same_weights(run, tmp_path / "straight")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("kill_at", ["checkpoint -> checkpoint.old", "checkpoint.tmp -> checkpoint"])
def test_sigkill_at_a_rename_then_resume(tmp_path, kill_at):
    """The issue's recipe: strace kills the process when it enters the nth rename(2)."""
    run, env = tmp_path / "run", {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    train_cmd = [sys.executable, "-m", "minivdt.apps.cli", "train", "--preset", "smoke", "--steps", "4",
                 "--checkpoint-every", "2", "--out", str(run)]
    # A save renames 3 SHA256SUMS files into place, then checkpoint -> .old (not on the first save), then
    # .tmp -> checkpoint: the first save makes renames 1-4, the second 5-9.
    when = {"checkpoint -> checkpoint.old": 8, "checkpoint.tmp -> checkpoint": 9}[kill_at]
    killed = subprocess.run(["strace", "-f", "-qq", "-e", "trace=rename", "-e",
                             f"inject=rename:signal=KILL:when={when}", "-o", "/dev/null", *train_cmd],
                            capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode != 0
    assert (run / checkpoints.LOCK_FILE).exists()  # left by the dead process: a stale lock
    done = subprocess.run(train_cmd + ["--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained to step 4" in done.stdout
    if kill_at == "checkpoint.tmp -> checkpoint":
        assert "recovered the checkpoint of step 4 from checkpoint.tmp" in done.stdout
    assert [line["step"] for line in read_log(run)] == [1, 2, 3, 4]
    assert not (run / checkpoints.LOCK_FILE).exists()


def test_a_second_training_into_the_same_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / checkpoints.LOCK_FILE).write_text(f"{owner.pid} {socket.gethostname()}\n")
        with pytest.raises(RunLockedError, match=f"in use by process {owner.pid}"):
            train(_smoke(run, max_steps=1), progress=False)
    finally:
        owner.kill()
        owner.wait()
    train(_smoke(run, max_steps=1), progress=False)  # its owner is dead now: the stale lock is taken over
    assert not (run / checkpoints.LOCK_FILE).exists()


def test_resume_trims_the_log_to_the_checkpoint(smoke_run):
    with open(smoke_run / "log.jsonl", "a") as log:  # lines a killed session wrote after its last checkpoint
        log.write('{"step": 3, "loss": 1.0, "lr": 0.001, "seconds": 9.0}\n{"step": 4, "loss"')
    train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)
    assert [line["step"] for line in read_log(smoke_run)] == [1, 2, 3]
    assert read_log(smoke_run)[-1]["loss"] != 1.0


def test_resume_without_a_checkpoint_and_a_new_run_over_one_are_refused(tmp_path, smoke_run):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_smoke(tmp_path / "empty", max_steps=1), resume=True, progress=False)
    with pytest.raises(FileExistsError, match="already holds a checkpoint"):
        train(_smoke(smoke_run, max_steps=3), progress=False)


def test_flipped_bytes_are_reported(smoke_run):
    weights = smoke_run / "checkpoint" / "model" / checkpoints.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # inside a tensor: safetensors itself would load this silently
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model/diffusion_pytorch_model.safetensors is corrupt: its SHA-256"):
        train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)


def test_loads_are_strict(smoke_run):
    ema = smoke_run / "checkpoint" / "ema"
    with pytest.raises(CheckpointError, match="cond_mode='concat', but 'adaln' is expected"):
        load_model(ema, expected={"cond_mode": "adaln"})
    with pytest.raises(ValueError, match="model_overrides"):  # the run's config says concat
        train(_smoke(smoke_run, max_steps=3, model_overrides={"hidden_size": 32, "depth": 1, "num_heads": 2,
                                                             "cond_mode": "adaln"}), resume=True, progress=False)
    config = (ema / "config.json").read_text()
    (ema / checkpoints.SUMS_FILE).unlink()  # an older folder without checksums still loads strictly
    (ema / "config.json").write_text(config.replace('"concat"', '"adaln"'))
    with pytest.raises(CheckpointError, match="missing: cond_embedder"):
        load_model(ema)


def test_loading_never_reaches_the_network(monkeypatch, smoke_run):
    def no_network(*args, **kwargs):
        raise AssertionError("tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    shutil.rmtree(smoke_run / "checkpoint" / "model")
    with pytest.raises(FileNotFoundError, match="not an existing local folder"):
        load_model("facebook/DiT-XL-2-256")  # a hub id is not a local folder
    with pytest.raises(FileNotFoundError, match="not an existing local folder"):
        load_model(smoke_run / "checkpoint" / "model")


def test_todays_checkpoint_format_without_checksums_resumes(smoke_run):
    """Runs saved before checksums (like the bundled run in progress) have no SHA256SUMS files."""
    for sums in smoke_run.rglob(checkpoints.SUMS_FILE):
        sums.unlink()
    assert read_state(smoke_run / "checkpoint")["step"] == 2
    os.rename(smoke_run / "checkpoint", smoke_run / "checkpoint.tmp")  # killed by the old code between its renames
    result = train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)
    assert result.step == 3 and (smoke_run / "checkpoint" / checkpoints.SUMS_FILE).exists()


def test_the_nan_stop_keeps_weights_a_lower_learning_rate_can_resume(smoke_run):
    with pytest.raises(FloatingPointError, match="resume from it with a lower learning rate"):
        train(_smoke(smoke_run, max_steps=10, learning_rate=1e30, checkpoint_every=1), resume=True, progress=False)
    kept = read_state(smoke_run / "checkpoint")
    assert all(torch.isfinite(p).all() and p.abs().max() < 1e3 for p in load_model(smoke_run / "checkpoint" / "model")
               .parameters())
    result = train(_smoke(smoke_run, max_steps=kept["step"] + 2, learning_rate=1e-4), resume=True, progress=False)
    assert len(result.losses) == 2 and all(torch.isfinite(torch.tensor(result.losses)))


def test_learning_rate_phases_read_a_resumed_runs_change_of_learning_rate(tmp_path):
    import json

    from minivdt.cards import learning_rate_phases

    rows = [{"step": s, "lr": 1e-3 * min(1, s / 20)} for s in range(10, 60, 10)] + \
           [{"step": s, "lr": 3e-4} for s in range(60, 90, 10)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    assert learning_rate_phases(tmp_path, warmup_steps=20) == [
        {"from_step": 20, "to_step": 50, "lr": 1e-3}, {"from_step": 50, "to_step": 80, "lr": 3e-4}]
    assert learning_rate_phases(tmp_path / "missing") == []


def test_read_log_skips_a_torn_last_line(tmp_path):
    """A run killed mid-write leaves half a line; reading its log (curves, lesson plots) must not fail on it."""
    (tmp_path / "log.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    assert [line["step"] for line in read_log(tmp_path)] == [1, 2]
