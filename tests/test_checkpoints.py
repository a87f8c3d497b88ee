"""Checkpoints survive crashes and refuse what they cannot trust: recovery after a kill between the renames,
the run lock (its races: test_run_lock.py), log trimming, strict and checksummed loads, weights and numbers no
training produces, a full disk and a symlinked checkpoint folder."""

import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from minivdt import checkpoints
from minivdt.checkpoints import CheckpointError, RunLockedError, load_model, read_state
from minivdt.model import VDT
from minivdt.training import make_train_config, read_log, train


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even `except Exception` handlers."""


def _smoke(out, **overrides):
    return make_train_config("smoke", out_dir=str(out), **overrides)


@pytest.fixture
def tiny_folder(tmp_path):
    torch.manual_seed(0)
    return checkpoints.save_model(VDT.from_preset("cpu-tiny", hidden_size=32, depth=1, num_heads=2), tmp_path / "m")


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


def test_loads_are_strict(smoke_run, tmp_path):
    ema = smoke_run / "checkpoint" / "ema"
    with pytest.raises(CheckpointError, match="cond_mode='concat', but 'adaln' is expected"):
        load_model(ema, expected={"cond_mode": "adaln"})
    with pytest.raises(ValueError, match="model_overrides"):  # the run's config says concat
        train(_smoke(smoke_run, max_steps=3, model_overrides={"hidden_size": 32, "depth": 1, "num_heads": 2,
                                                             "cond_mode": "adaln"}), resume=True, progress=False)
    edited = shutil.copytree(ema, tmp_path / "edited")  # a model folder whose config no longer fits its weights
    (edited / "config.json").write_text((ema / "config.json").read_text().replace('"concat"', '"adaln"'))
    checkpoints.write_sums(edited, list(checkpoints.MODEL_FILES))
    with pytest.raises(CheckpointError, match="missing: cond_embedder"):
        load_model(edited)


def test_a_runs_ema_of_another_cond_mode_is_refused(smoke_run):
    """README: another cond_mode than the run's is an error, also when the run's ema/ folder was swapped."""
    ema = smoke_run / "checkpoint" / "ema"
    other = VDT(**{**load_model(ema).config, "cond_mode": "adaln"})
    shutil.rmtree(ema)
    checkpoints.save_model(other, ema)  # with its own valid checksums
    checkpoints.write_sums(smoke_run / "checkpoint", [line.split("  ")[1] for line in (
        smoke_run / "checkpoint" / checkpoints.SUMS_FILE).read_text().splitlines()])
    for path in (smoke_run, ema):
        with pytest.raises(CheckpointError, match="cond_mode='adaln', but its run's training config .* trains "
                                                  "cond_mode='concat'"):
            load_model(path)


def test_weights_training_could_not_produce_are_refused(smoke_run, tmp_path):
    from safetensors.torch import load_file, save_file

    source = smoke_run / "checkpoint" / "model"
    weights = load_file(source / checkpoints.WEIGHTS_FILE)
    first = sorted(weights)[0]
    cases = {
        "nan": ({k: torch.full_like(w, float("nan")) for k, w in weights.items()}, "NaN or infinite weights"),
        "-inf": ({**weights, first: torch.full_like(weights[first], -float("inf"))}, "NaN or infinite weights"),
        "1e30": ({**weights, first: weights[first] + 1e30}, r"magnitude 1e\+30 in .*beyond the 10000"),
        "int64": ({k: w.to(torch.int64) for k, w in weights.items()}, "torch.int64, not torch.float32.*not cast"),
        "bool": ({k: w.bool() for k, w in weights.items()}, "torch.bool, not torch.float32"),
        "uint8": ({k: w.to(torch.uint8) for k, w in weights.items()}, "torch.uint8, not torch.float32"),
        "float64": ({k: w.double() for k, w in weights.items()}, "torch.float64, not torch.float32"),
    }
    for name, (bad, message) in cases.items():
        folder = shutil.copytree(source, tmp_path / name)
        save_file(bad, folder / checkpoints.WEIGHTS_FILE)
        checkpoints.write_sums(folder, list(checkpoints.MODEL_FILES))  # the checksums match: only the values are bad
        with pytest.raises(CheckpointError, match=message):
            load_model(folder)


def test_state_and_card_numbers_out_of_range_are_refused(smoke_run, tmp_path):
    import json

    from minivdt.cards import export_model, read_card

    checkpoint = smoke_run / "checkpoint"
    state = torch.load(checkpoint / checkpoints.STATE_FILE, weights_only=True)
    names = [line.split("  ")[1] for line in (checkpoint / checkpoints.SUMS_FILE).read_text().splitlines()]
    for change, message in [({"step": 10**30}, r"step must be an int in \[0, 1000000000\], got 1000000000000"),
                            ({"step": 2.0}, "step must be an int"),
                            ({"train_seconds": float("inf")}, "train_seconds must be a finite number"),
                            ({"train_seconds": -5.0}, "train_seconds must be a finite number in")]:
        torch.save({**state, **change}, checkpoint / checkpoints.STATE_FILE)
        checkpoints.write_sums(checkpoint, names)
        with pytest.raises(CheckpointError, match=message):
            read_state(checkpoint)
    torch.save(state, checkpoint / checkpoints.STATE_FILE)
    checkpoints.write_sums(checkpoint, names)
    exported = export_model(smoke_run, tmp_path / "exported")
    card = json.loads((exported / "training.json").read_text())
    for change, message in [({"train_seconds": float("inf")}, "train_seconds must be a finite number"),
                            ({"steps": 1e30}, "steps must be an int"), ({"num_train_clips": 0}, "num_train_clips"),
                            ({"train_config": [1]}, "train_config must be a JSON object"),
                            ({"init": [1]}, "init must be a JSON object"),
                            ({"init": {"train_seconds": float("inf")}}, "train_seconds must be a finite number")]:
        (exported / "training.json").write_text(json.dumps({**card, **change}))  # json writes inf as Infinity
        with pytest.raises(CheckpointError, match=f"training.json: {message}"):
            read_card(exported)


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_without_checksums_a_flipped_byte_is_still_refused(smoke_run, damage):
    """A deleted or empty SHA256SUMS used to let a flipped weight byte load."""
    for sums in smoke_run.rglob(checkpoints.SUMS_FILE):
        sums.unlink() if damage == "deleted" else sums.write_text("")
    weights = smoke_run / "checkpoint" / "ema" / checkpoints.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    message = "SHA256SUMS is missing" if damage == "deleted" else "SHA256SUMS is empty"
    with pytest.raises(CheckpointError, match=message):
        load_model(smoke_run)
    with pytest.raises(CheckpointError, match=message):
        train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)


def test_checksums_must_cover_the_weights(tiny_folder):
    sums = tiny_folder / checkpoints.SUMS_FILE
    sums.write_text(sums.read_text().splitlines()[0] + "\n")  # config.json only
    with pytest.raises(CheckpointError, match="does not list .*diffusion_pytorch_model.safetensors"):
        load_model(tiny_folder)
    sums.write_text("not a checksum line\n")
    with pytest.raises(CheckpointError, match="is not '<sha256>  <file in this folder>'"):
        load_model(tiny_folder)


def test_the_bundled_folders_carry_their_checksums():
    from minivdt.course import DEFAULT_CHECKPOINT, LESSON4_DENOISER

    checkpoints.verify_sums(DEFAULT_CHECKPOINT, checkpoints.MODEL_FILES)
    checkpoints.verify_sums(LESSON4_DENOISER, ("config.json", "model.safetensors"))
    assert load_model(DEFAULT_CHECKPOINT).config.cond_mode == "concat"


def test_loading_never_reaches_the_network(monkeypatch, smoke_run):
    def no_network(*args, **kwargs):
        raise AssertionError("tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    shutil.rmtree(smoke_run / "checkpoint" / "model")
    with pytest.raises(FileNotFoundError, match="not an existing local folder"):
        load_model("facebook/DiT-XL-2-256")  # a hub id is not a local folder
    with pytest.raises(FileNotFoundError, match="not an existing local folder"):
        load_model(smoke_run / "checkpoint" / "model")


def test_a_checkpoint_tmp_without_checksums_is_not_complete(smoke_run):
    """A save cut short before its SHA256SUMS (written last) is not resumed from, however whole its files look."""
    os.rename(smoke_run / "checkpoint", smoke_run / "checkpoint.tmp")
    (smoke_run / "checkpoint.tmp" / checkpoints.SUMS_FILE).unlink()
    assert checkpoints.find_checkpoint(smoke_run) is None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)


def test_a_failed_save_names_the_file_and_keeps_the_last_checkpoint(smoke_run, monkeypatch):
    """A full disk: torch.save raises a RuntimeError about its zip writer, other writes OSError ENOSPC."""
    import errno

    real_save = checkpoints.torch.save
    failures = iter([RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
                     OSError(errno.ENOSPC, "No space left on device")])

    def full_disk(obj, path, *args, **kwargs):
        raise next(failures)

    monkeypatch.setattr(checkpoints.torch, "save", full_disk)
    for _ in range(2):
        with pytest.raises(OSError, match=r"cannot write .*checkpoint.tmp/state.pt: .*; the checkpoint in "
                                          r".*run/checkpoint is kept") as error:
            train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)
        assert not (smoke_run / "checkpoint.tmp").exists()  # the partial copy is removed, to free the space
        assert read_state(smoke_run / "checkpoint")["step"] == 2
    assert error.value.errno == errno.ENOSPC
    monkeypatch.setattr(checkpoints.torch, "save", real_save)
    assert train(_smoke(smoke_run, max_steps=3), resume=True, progress=False).step == 3


def test_a_symlinked_checkpoint_folder_is_refused_before_training(smoke_run, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    os.rename(smoke_run / "checkpoint", elsewhere)
    os.symlink(elsewhere, smoke_run / "checkpoint")
    assert load_model(smoke_run).config.hidden_size == 32  # reading through the link is fine
    with pytest.raises(CheckpointError, match="checkpoint is a symbolic link"):
        train(_smoke(smoke_run, max_steps=3), resume=True, progress=False)
    assert read_state(elsewhere)["step"] == 2 and (smoke_run / "checkpoint").is_symlink()  # nothing was changed


def test_the_nan_stop_keeps_weights_a_lower_learning_rate_can_resume(smoke_run):
    with pytest.raises(FloatingPointError, match="resume from it with a lower learning rate") as error:
        train(_smoke(smoke_run, max_steps=10, learning_rate=1e30, checkpoint_every=1), resume=True, progress=False)
    advised = float(str(error.value).split("--learning-rate ")[1].split()[0])
    assert advised <= 3e-4  # not a tenth of the runaway 1e30: the library default at most
    kept = read_state(smoke_run / "checkpoint")
    assert all(torch.isfinite(p).all() and p.abs().max() < 1e3 for p in load_model(smoke_run / "checkpoint" / "model")
               .parameters())
    result = train(_smoke(smoke_run, max_steps=kept["step"] + 2, learning_rate=advised), resume=True, progress=False)
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
