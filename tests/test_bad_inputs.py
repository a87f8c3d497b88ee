"""The bad input corpus: every bad argument, file or folder gives one named error before any compute.

CLI cases: exit status != 0, exactly one line on stderr, no traceback. Argument cases run as subprocesses (they
stop before torch is imported, so they are cheap); file cases run `cli.main` in this process, and a sample of them
also as subprocesses, so that the suite stays fast on 2 cores.
API cases raise a ValueError/TypeError that names the argument.
Payload cases plant a pickle that would create a marker file and check it never appears.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from minivdt import checkpoints
from minivdt.apps import cli
from minivdt.data import BallClips
from minivdt.masks import TaskMix, make_mask
from minivdt.model import VDT, VDTConfig
from minivdt.training import make_train_config
from minivdt.world import WorldConfig

TINY = dict(hidden_size=32, depth=1, num_heads=2)


def run_cli(*argv, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MINIVDT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "minivdt.apps.cli", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def assert_one_line_error(done, message):
    assert done.returncode != 0, done.stdout[-500:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert message in lines[0], lines[0]


def main_in_process(argv, capfd):
    """cli.main as a subprocess would run it, with stdout/stderr captured at the file-descriptor level."""
    capfd.readouterr()
    code = cli.main(argv)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-model")
    torch.manual_seed(0)
    checkpoints.save_model(VDT.from_preset("cpu-tiny", **TINY), path)
    return path


# --------------------------------------------------------------------------------------------
#  Command line: argument values (rejected by the parser, before torch is imported)
# --------------------------------------------------------------------------------------------

ARGUMENT_CASES = [
    (["train", "--steps", "0"], "argument --steps: must be an int in [1, inf], got 0"),
    (["train", "--steps", "-5"], "argument --steps"),
    (["train", "--batch-size", "0"], "argument --batch-size"),
    (["train", "--checkpoint-every", "0"], "argument --checkpoint-every"),
    (["train", "--log-every", "0"], "argument --log-every"),
    (["train", "--minutes", "nan"], "argument --minutes: must be a finite number > 0"),
    (["train", "--minutes", "-1"], "argument --minutes"),
    (["train", "--learning-rate", "0"], "argument --learning-rate"),
    (["train", "--learning-rate", "inf"], "argument --learning-rate"),
    (["train", "--seed", "-1"], "argument --seed: must be an int in [0, 4294967295]"),
    (["train", "--seed", "1" * 30], "argument --seed"),
    (["train", "--cond-mode", "film"], "argument --cond-mode"),
    (["sample", "--steps", "-3"], "argument --steps"),
    (["sample", "--steps", "0"], "argument --steps"),
    (["sample", "--num-clips", "0"], "argument --num-clips"),
    (["demo", "--steps", "-1"], "argument --steps"),
    (["demo", "--num-clips", "100000"], "argument --num-clips"),
    (["data", "preview", "--size", "100000"], "argument --size: must be an int in [16, 512]"),
    (["data", "preview", "--frames", "1"], "argument --frames"),
    (["data", "generate", "--num-clips", "0", "--out", "x.npz"], "argument --num-clips"),
    (["bench", "quality", "--budget-s", "-1"], "argument --budget-s"),
    (["bench", "quality", "--threads", "0"], "argument --threads"),
    (["bench", "conditioning", "--budget-s", "0"], "argument --budget-s"),
    (["bench", "scaling", "--steps", "0"], "argument --steps"),
    (["bench", "stochastic", "--futures", "0"], "argument --futures"),
    (["bench", "stochastic", "--samples", "0"], "argument --samples"),
    (["bench", "stochastic", "--curve", "nowhere.jsonl"], "--curve 'nowhere.jsonl' is not a file"),
    (["bench", "stochastic", "--curve", "."], "--curve '.' is not a file"),
    (["bench", "scaling", "--num-val", "0"], "argument --num-val"),
    (["bench", "sampler", "--num-val", "0"], "argument --num-val"),
    (["bench", "quality", "--sampler", "euler"], "argument --sampler"),
    (["train", "--world", "gravty=1"], "argument --world: unknown key 'gravty'; the keys are substeps, gravity"),
    (["train", "--world", "restitution=2"], "argument --world: restitution must be in [0, 1], got 2.0"),
    (["train", "--world", "gravity"], "argument --world: expected KEY=VALUE[,KEY=VALUE...], got 'gravity'"),
    (["train", "--world", "gravity=fast"], "argument --world: gravity must be a number, got 'fast'"),
    (["train", "--world", "rough_floor=maybe"], "argument --world: rough_floor must be true or false"),
    (["train", "--world", "bounce_angle=120"], "argument --world: bounce_angle must be in [0, 90] degrees"),
    (["train", "--world", "size=64"], "argument --world: unknown key 'size'"),
    (["train", "--scenarios", "drop,bouncy"], "argument --scenarios: scenarios must be names from drop"),
    (["eval", "x", "--world", "friction=-1"], "argument --world: gravity and friction must be >= 0"),
    (["eval", "x", "--num-clips", "0"], "argument --num-clips"),
    (["eval", "x", "--samples", "0"], "argument --samples"),
    (["eval"], "the following arguments are required: checkpoint"),
    (["plot"], "the following arguments are required: run"),
    (["teleport"], "argument command"),
]


@pytest.mark.parametrize("argv,message", ARGUMENT_CASES, ids=[" ".join(a)[:40] for a, _ in ARGUMENT_CASES])
def test_cli_rejects_bad_argument_values(argv, message, tmp_path):
    assert_one_line_error(run_cli(*argv, cwd=tmp_path), message)


# --------------------------------------------------------------------------------------------
#  Command line: files and folders (checked before any compute)
# --------------------------------------------------------------------------------------------

def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _resum(*folders):
    """Record the files' present checksums: a crafted checkpoint, not a damaged one."""
    for folder in folders:
        names = [line.split("  ")[1] for line in (folder / checkpoints.SUMS_FILE).read_text().splitlines()]
        checkpoints.write_sums(folder, names)


def _edit_json(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    _resum(path.parent, path.parent.parent)


def _drop_state_key(run):
    state = torch.load(run / "checkpoint" / "state.pt", weights_only=True)
    del state["optimizer"]
    torch.save(state, run / "checkpoint" / "state.pt")
    _resum(run / "checkpoint")


def _edit_state(run, **changes):
    state = torch.load(run / "checkpoint" / "state.pt", weights_only=True)
    torch.save({**state, **changes}, run / "checkpoint" / "state.pt")
    _resum(run / "checkpoint")


def _edit_ema_weights(change):
    """A setup(run) that replaces the run's EMA weights by change(weights), with matching checksums."""
    from safetensors.torch import load_file, save_file

    def setup(run):
        path = run / "checkpoint" / "ema" / checkpoints.WEIGHTS_FILE
        save_file(change(load_file(path)), path)
        _resum(path.parent, run / "checkpoint")
    return setup


def _first_tensor(change):
    return lambda weights: {**weights, min(weights): change(weights[min(weights)])}


def _all_tensors(change):
    return lambda weights: {name: change(w) for name, w in weights.items()}


def _swap_ema_cond_mode(run):
    """The run's ema/ replaced by an adaLN model of the same size (another run's, with its own checksums)."""
    ema = run / "checkpoint" / "ema"
    other = VDT(**{**json.loads((ema / "config.json").read_text()), "cond_mode": "adaln"})
    __import__("shutil").rmtree(ema)
    checkpoints.save_model(other, ema)
    _resum(run / "checkpoint")


def _checksums_gone(how):
    """A setup(run) that deletes or empties every SHA256SUMS, then flips a byte of the EMA weights."""
    def setup(run):
        for sums in run.rglob(checkpoints.SUMS_FILE):
            sums.unlink() if how == "deleted" else sums.write_text("")
        _flip_byte(run / "checkpoint" / "ema" / checkpoints.WEIGHTS_FILE)
    return setup


def _link_checkpoint(run):
    os.rename(run / "checkpoint", run.parent / "elsewhere")
    os.symlink(run.parent / "elsewhere", run / "checkpoint")


def _exported_with_card(**changes):
    """A setup(run) that exports the run to {run}/exported and edits its training.json card."""
    from minivdt.cards import export_model

    def setup(run):
        card = export_model(run, run / "exported") / checkpoints.CARD_FILE
        card.write_text(json.dumps({**json.loads(card.read_text()), **changes}))  # inf is written as Infinity
    return setup


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


# (argv with {run} = a smoke run copy, {model} = a tiny model folder, {file} = a plain file, {tmp} = a fresh
#  folder; a setup(run) that breaks the run copy; the message the error line must contain)
FILE_CASES = [
    ("train-out-is-file", ["train", "--preset", "smoke", "--out", "{file}"], None, "--out"),
    ("train-out-under-file", ["train", "--preset", "smoke", "--out", "{file}/run"], None, "which is a file"),
    ("train-preset", ["train", "--preset", "giant", "--out", "{tmp}/r"], None, "preset must be one of"),
    ("resume-without-checkpoint", ["train", "--preset", "smoke", "--out", "{tmp}/r", "--resume"], None,
     "has no checkpoint; drop --resume"),
    ("new-run-over-checkpoint", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3"], None,
     "already holds a checkpoint"),
    ("resume-other-cond-mode", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume",
                                "--cond-mode", "adaln"], None, "model_overrides"),
    ("resume-flipped-byte", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: _flip_byte(run / "checkpoint" / "model" / checkpoints.WEIGHTS_FILE), "SHA-256"),
    ("resume-truncated-weights", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: _truncate(run / "checkpoint" / "model" / checkpoints.WEIGHTS_FILE), "is corrupt"),
    ("resume-hidden-size-edited", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: _edit_json(run / "checkpoint" / "model" / "config.json", hidden_size=64),
     "has hidden_size=64, but 32 is expected"),
    ("resume-invalid-json", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: (run / "checkpoint" / "model" / "config.json").write_text("{not json"), "config.json is corrupt"),
    ("resume-state-without-optimizer", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     _drop_state_key, "not a minivdt training state"),
    ("resume-model-folder-deleted", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: __import__("shutil").rmtree(run / "checkpoint" / "model"), "model/config.json is missing"),
    ("export-no-checkpoint", ["export", "{tmp}", "{tmp}/out"], None, "has no checkpoint"),
    ("export-to-file", ["export", "{run}", "{file}"], None, "is a file"),
    ("demo-hub-id", ["demo", "--checkpoint", "facebook/DiT-XL-2-256"], None, "not an existing local folder"),
    ("demo-out-is-file", ["demo", "--checkpoint", "{model}", "--out", "{file}"], None, "--out"),
    ("sample-out-under-file", ["sample", "--checkpoint", "{model}", "--out", "{file}/v.mp4"], None, "which is a file"),
    ("sample-task", ["sample", "--checkpoint", "{model}", "--task", "teleport"], None, "task must be one of"),
    ("sample-scenario", ["sample", "--checkpoint", "{model}", "--scenario", "explode", "--out", "{tmp}/v.mp4"], None,
     "scenario"),
    ("preview-out-is-file", ["data", "preview", "--out", "{file}"], None, "--out"),
    ("generate-out-is-folder", ["data", "generate", "--out", "{tmp}"], None, "is a folder"),
    ("bench-device", ["bench", "speed", "--device", "tpu", "--out", "{tmp}/b", "--md", "{tmp}/B.md"], None,
     "--device must be cpu, cuda, cuda:N or mps"),
    ("bench-md-under-file", ["bench", "speed", "--md", "{file}/B.md", "--out", "{tmp}/b"], None, "--md"),
    ("bench-sampler-candidate", ["bench", "sampler", "--checkpoint", "{model}", "--candidates", "ddim:0",
                                 "--out", "{tmp}/b", "--md", "{tmp}/B.md"], None, "candidates must look like NAME:STEPS"),
    ("bench-recipe-arm", ["bench", "recipe", "--no-run", "--arms", "x0-high_noise", "x0-teleport", "--runs", "{tmp}/r",
                          "--out", "{tmp}/b", "--md", "{tmp}/B.md"], None, "--arms must be among"),
    # weights, checksums and numbers no training produces, in files whose checksums match (or are gone)
    *[(f"sample-{name}-weights", ["sample", "--checkpoint", "{run}", "--out", "{tmp}/v.mp4"], _edit_ema_weights(change),
       message) for name, change, message in [
        ("nan", _all_tensors(lambda w: torch.full_like(w, float("nan"))), "ema/diffusion_pytorch_model.safetensors "
                                                                          "holds NaN or infinite weights"),
        ("inf", _first_tensor(lambda w: torch.full_like(w, float("inf"))), "holds NaN or infinite weights"),
        ("minus-inf", _first_tensor(lambda w: torch.full_like(w, -float("inf"))), "holds NaN or infinite weights"),
        ("1e30", _first_tensor(lambda w: w + 1e30), "holds a weight of magnitude 1e+30"),
        ("int64", _all_tensors(lambda w: w.to(torch.int64)), "torch.int64, not torch.float32"),
        ("bool", _all_tensors(lambda w: w.bool()), "torch.bool, not torch.float32"),
        ("uint8", _all_tensors(lambda w: w.to(torch.uint8)), "torch.uint8, not torch.float32")]],
    ("sample-sums-deleted", ["sample", "--checkpoint", "{run}", "--out", "{tmp}/v.mp4"], _checksums_gone("deleted"),
     "SHA256SUMS is missing"),
    ("sample-sums-emptied", ["sample", "--checkpoint", "{run}", "--out", "{tmp}/v.mp4"], _checksums_gone("emptied"),
     "SHA256SUMS is empty"),
    ("sample-ema-other-cond-mode", ["sample", "--checkpoint", "{run}", "--out", "{tmp}/v.mp4"], _swap_ema_cond_mode,
     "ema/config.json has cond_mode='adaln', but its run's training config"),
    ("demo-ema-other-cond-mode", ["demo", "--checkpoint", "{run}", "--out", "{tmp}/d"], _swap_ema_cond_mode,
     "but its run's training config"),
    ("export-ema-other-cond-mode", ["export", "{run}", "{tmp}/out"], _swap_ema_cond_mode, "but its run's training config"),
    ("resume-state-step-1e30", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: _edit_state(run, step=10**30), "step must be an int in [0, 1000000000]"),
    ("resume-state-seconds-inf", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     lambda run: _edit_state(run, train_seconds=float("inf")), "train_seconds must be a finite number"),
    ("bench-quality-card-seconds-inf", ["bench", "quality", "--quick", "--checkpoint", "{run}/exported",
                                        "--out", "{tmp}/b", "--md", "{tmp}/B.md"],
     _exported_with_card(train_seconds=float("inf")), "training.json: train_seconds must be a finite number"),
    ("resume-checkpoint-symlink", ["train", "--preset", "smoke", "--out", "{run}", "--steps", "3", "--resume"],
     _link_checkpoint, "checkpoint is a symbolic link"),
    # empty strings are errors, never the defaults; output paths are checked before any compute
    ("sample-checkpoint-empty", ["sample", "--checkpoint", "", "--out", "{tmp}/v.mp4"], None,
     "--checkpoint must not be empty"),
    ("demo-checkpoint-empty", ["demo", "--checkpoint", "", "--out", "{tmp}/d"], None, "--checkpoint must not be empty"),
    ("sample-out-empty", ["sample", "--checkpoint", "{model}", "--out", ""], None, "--out must be a path, got ''"),
    ("demo-out-empty", ["demo", "--checkpoint", "{model}", "--out", ""], None, "--out must be a path, got ''"),
    ("export-run-empty", ["export", "", "{tmp}/out"], None, "run must be a run folder, got ''"),
    ("export-out-empty", ["export", "{run}", ""], None, "out must be a path, got ''"),
    ("sample-out-extension", ["sample", "--checkpoint", "{model}", "--out", "{tmp}/late.txt"], None,
     "--out must end in .mp4 or .gif"),
]


AS_SUBPROCESS = {"resume-flipped-byte", "demo-hub-id", "bench-device", "export-to-file", "sample-nan-weights",
                 "sample-checkpoint-empty"}


@pytest.mark.parametrize("name,argv,setup,message", FILE_CASES, ids=[case[0] for case in FILE_CASES])
def test_cli_rejects_bad_files_and_folders(name, argv, setup, message, smoke_run, tiny_model, tmp_path, capfd,
                                           monkeypatch):
    plain = tmp_path / "plain.txt"
    plain.write_text("not a folder\n")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    if setup is not None:
        setup(smoke_run)
    argv = [a.format(run=smoke_run, model=tiny_model, file=plain, tmp=fresh) for a in argv]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MINIVDT_DEBUG", raising=False)
    done = run_cli(*argv, cwd=tmp_path) if name in AS_SUBPROCESS else main_in_process(argv, capfd)
    assert_one_line_error(done, message)
    assert sorted(p.name for p in fresh.iterdir()) == []  # nothing was written


def test_ctrl_c_is_one_line_that_says_what_was_kept(tmp_path):
    """Ctrl-C (SIGINT) during a training: exit 130, no traceback, the kept checkpoint named; --resume continues."""
    import signal
    import time

    run = tmp_path / "run"
    argv = [sys.executable, "-m", "minivdt.apps.cli", "train", "--preset", "smoke", "--out", str(run),
            "--checkpoint-every", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MINIVDT_DEBUG", None)
    # SIGINT's default action in the child: a shell's background job (`cmd &`) ignores SIGINT, Python then installs
    # no KeyboardInterrupt handler, and a suite started that way would test nothing but the ignored signal
    training = subprocess.Popen(argv + ["--steps", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=tmp_path,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while not (run / "log.jsonl").is_file() or len((run / "log.jsonl").read_text().splitlines()) < 5:
        assert training.poll() is None and time.time() < deadline, training.communicate()
        time.sleep(0.1)
    training.send_signal(signal.SIGINT)
    out, err = training.communicate(timeout=120)
    assert training.returncode == 130 and "Traceback" not in err, err[-3000:]
    *progress, last = err.strip().splitlines()
    assert all(line.startswith("train:") for line in progress if line.strip()), progress
    assert last == (f"minivdt train: interrupted; the last checkpoint is kept in {run / 'checkpoint'} (continue with "
                    f"`minivdt train --resume --out {run}` and the same options)"), last
    done = subprocess.run(argv + ["--steps", "8", "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "trained to step 8" in done.stdout, done.stderr[-2000:]


def test_a_full_disk_is_one_line_naming_the_file(smoke_run, tiny_model, tmp_path, capfd, monkeypatch):
    import errno

    from minivdt.apps import demo

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", full_disk)
    done = main_in_process(["train", "--preset", "smoke", "--out", str(smoke_run), "--steps", "3", "--resume"], capfd)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    *progress, last = done.stderr.strip().splitlines()
    assert all(line.startswith("train:") for line in progress if line.strip()), progress
    assert last == (f"minivdt train: error: cannot write {smoke_run / 'checkpoint.tmp' / 'state.pt'}: No space left on "
                    f"device; the checkpoint in {smoke_run / 'checkpoint'} is kept (the disk is full: free some space "
                    f"and run the command again)"), last
    monkeypatch.setattr(demo, "save_video", full_disk)
    video = tmp_path / "v.mp4"
    done = main_in_process(["sample", "--checkpoint", str(tiny_model), "--steps", "1", "--num-clips", "1",
                            "--out", str(video)], capfd)
    assert_one_line_error(done, f"minivdt sample: error: cannot write {video}: No space left on device (the disk is")


def test_cli_nan_stop_is_one_error_line_with_advice_that_works(smoke_run, capfd):
    done = main_in_process(["train", "--preset", "smoke", "--out", str(smoke_run), "--steps", "9",
                            "--checkpoint-every", "1", "--learning-rate", "1e30", "--resume"], capfd)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    *progress, error = done.stderr.strip().splitlines()  # the progress bar ran before the loss blew up
    assert all(line.startswith("train:") for line in progress if line.strip()), progress
    assert error.startswith("minivdt train: error: training loss became")
    advice = error.split("options): ")[1].split()
    assert advice[:4] == ["minivdt", "train", "--resume", "--learning-rate"]
    assert float(advice[4]) <= 3e-4  # a sane rate (a tenth of 1e30 would explode again), taken as advised
    done = main_in_process([*advice[1:], "--preset", "smoke", "--steps", "12"], capfd)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained to step 12" in done.stdout


# --------------------------------------------------------------------------------------------
#  Library API
# --------------------------------------------------------------------------------------------

def _tiny_vdt():
    torch.manual_seed(0)
    return VDT.from_preset("cpu-tiny", **TINY)


def _forward(x=None, timesteps=None, cond=None, mask=None, batch=2):
    model = _tiny_vdt()
    shape = (batch, 16, 3, 32, 32)
    x = torch.zeros(shape) if x is None else x
    cond = torch.zeros(shape) if cond is None else cond
    mask = torch.ones(batch, 16, 1, 32, 32) if mask is None else mask
    return model(x, torch.zeros(batch, dtype=torch.long) if timesteps is None else timesteps, cond, mask)


def _nan_video():
    x = torch.zeros(2, 16, 3, 32, 32)
    x[0, 0, 0, 0, 0] = float("nan")
    return x


def _bad_cache(tmp_path):
    """A cache of 16x16 frames whose metadata claims size 32."""
    small = BallClips("val", scenarios=("drop",), num_clips=2, config=WorldConfig(size=16),
                      cache=tmp_path / "small.npz")
    with np.load(tmp_path / "small.npz") as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    meta["config"]["size"] = 32
    arrays["meta"] = json.dumps(meta)
    np.savez(tmp_path / "lying.npz", **arrays)
    assert len(small) == 2
    return BallClips("val", scenarios=("drop",), num_clips=2, config=WorldConfig(size=32), cache=tmp_path / "lying.npz")


API_CASES = [
    ("forward-int-input", lambda tmp: _forward(x=torch.zeros(2, 16, 3, 32, 32, dtype=torch.long)), TypeError,
     "x must be a floating-point tensor"),
    ("forward-batch-0", lambda tmp: _forward(batch=0), ValueError, "x must have shape .* B >= 1"),
    ("forward-nan-input", lambda tmp: _forward(x=_nan_video()), ValueError, "x must be finite"),
    ("forward-nan-cond", lambda tmp: _forward(cond=_nan_video()), ValueError, "cond must be finite"),
    ("forward-timestep-negative", lambda tmp: _forward(timesteps=torch.tensor([-1, 0])), ValueError,
     r"timesteps must be finite and in \[0, 1000\]"),
    ("forward-timestep-huge", lambda tmp: _forward(timesteps=torch.tensor([5000, 0])), ValueError, "timesteps"),
    ("forward-timestep-nan", lambda tmp: _forward(timesteps=torch.tensor([float("nan"), 0.0])), ValueError,
     "timesteps"),
    ("forward-mask-values", lambda tmp: _forward(mask=torch.full((2, 16, 1, 32, 32), 2.0)), ValueError,
     "mask values must be 0"),
    ("make-mask-bool", lambda tmp: make_mask("predict", True, 16, 32, 32), TypeError, "batch must be an int"),
    ("make-mask-str", lambda tmp: make_mask("predict", 1, "16", 32, 32), TypeError, "num_frames must be an int"),
    ("make-mask-num-given-negative", lambda tmp: make_mask("interpolate", 1, 16, 32, 32, num_given=-5), ValueError,
     r"num_given must be in \[1, 15\] for 'interpolate'"),
    ("make-mask-num-given-predict", lambda tmp: make_mask("predict", 1, 16, 32, 32, num_given=16), ValueError,
     "num_given must be in"),
    ("make-mask-generator", lambda tmp: make_mask("random", 1, 16, 32, 32, generator=0), TypeError, "generator"),
    ("task-mix-inf", lambda tmp: TaskMix({"predict": float("inf")}), ValueError, r"weights\['predict'\] must be a finite"),
    ("task-mix-nan", lambda tmp: TaskMix({"predict": 1.0, "random": float("nan")}), ValueError, "weights"),
    ("task-mix-batch", lambda tmp: TaskMix({"predict": 1.0}).sample(0), ValueError, "batch must be an int in"),
    ("mlp-ratio-zero-width", lambda tmp: VDTConfig(mlp_ratio=0.001), ValueError, "mlp_ratio"),
    ("mlp-ratio-inf", lambda tmp: VDTConfig(mlp_ratio=float("inf")), ValueError, "mlp_ratio"),
    ("world-gravity-nan", lambda tmp: WorldConfig(gravity=float("nan")), ValueError, "gravity must be a finite"),
    ("world-gravity-inf", lambda tmp: WorldConfig(gravity=float("inf")), ValueError, "gravity"),
    ("world-friction-nan", lambda tmp: WorldConfig(friction=float("nan")), ValueError, "friction"),
    ("cache-frames-smaller-than-metadata", _bad_cache, ValueError, "frames has shape"),
    ("train-config-seed", lambda tmp: make_train_config("smoke", seed=-1), ValueError, "seed must be an int in"),
    ("train-config-max-steps", lambda tmp: make_train_config("smoke", max_steps=-5), ValueError, "max_steps"),
    ("train-config-batch-size", lambda tmp: make_train_config("smoke", batch_size=0), ValueError, "batch_size"),
    ("train-config-checkpoint-every", lambda tmp: make_train_config("smoke", checkpoint_every=0), ValueError,
     "checkpoint_every"),
    ("train-config-learning-rate", lambda tmp: make_train_config("smoke", learning_rate=float("nan")), ValueError,
     "learning_rate"),
    ("train-config-time-budget", lambda tmp: make_train_config("smoke", time_budget_s=-60.0), ValueError,
     "time_budget_s"),
    ("train-config-task-weight", lambda tmp: make_train_config("smoke", task_weights={"predict": float("inf")}),
     ValueError, "task_weights"),
    ("load-model-not-a-path", lambda tmp: checkpoints.load_model(3), TypeError, "checkpoint must be a path"),
]


@pytest.mark.parametrize("name,call,error,match", API_CASES, ids=[case[0] for case in API_CASES])
def test_api_rejects_bad_arguments(name, call, error, match, tmp_path):
    with pytest.raises(error, match=match):
        call(tmp_path)


def test_forward_converts_other_float_dtypes_to_the_weights_dtype():
    model = _tiny_vdt()
    x = torch.randn(1, 16, 3, 32, 32)
    mask = torch.ones(1, 16, 1, 32, 32)
    reference = model(x, torch.tensor([10]), x, mask)
    for dtype in (torch.float64, torch.bfloat16):
        out = model(x.to(dtype), torch.tensor([10]), x.to(dtype), mask.bool())
        assert out.dtype == torch.float32
        assert torch.allclose(out, reference, atol=0.05 if dtype == torch.bfloat16 else 1e-6)
    assert make_mask("predict", np.int64(2), np.int32(16), 32, 32).shape == (2, 16, 1, 32, 32)  # numpy ints are fine


# --------------------------------------------------------------------------------------------
#  Pickle payloads: nothing a file holds is ever run
# --------------------------------------------------------------------------------------------

class Payload:
    """Unpickling this runs a shell command (what a malicious state.pt or .pt run would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickle_payloads_never_run(smoke_run, tiny_model, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    # a state.pt whose checksum matches, so the payload reaches the unpickler
    state = torch.load(smoke_run / "checkpoint" / "state.pt", weights_only=True)
    torch.save({**state, "step": Payload(marker)}, smoke_run / "checkpoint" / "state.pt")
    checkpoints.write_sums(smoke_run / "checkpoint", [line.split("  ")[1] for line in
                                                      (smoke_run / "checkpoint" / checkpoints.SUMS_FILE).read_text().splitlines()])
    payload_pt = tmp_path / "cnn.pt"
    torch.save({"state_dict": {}, "info": Payload(marker), "curve": []}, payload_pt)
    pickled_model = tmp_path / "pickled-model"  # weights as a pickle instead of safetensors
    pickled_model.mkdir()
    (pickled_model / "config.json").write_text((tiny_model / "config.json").read_text())
    torch.save({"x_embedder.proj.weight": Payload(marker)}, pickled_model / "diffusion_pytorch_model.bin")
    bench = ["bench", "quality", "--quick", "--checkpoint", str(tiny_model), "--budget-s", "2",
             "--out", str(tmp_path / "bench"), "--md", str(tmp_path / "B.md")]
    attempts = {
        "resume": (["train", "--preset", "smoke", "--out", str(smoke_run), "--steps", "3", "--resume"],
                   "refused for safety"),
        "export": (["export", str(smoke_run), str(tmp_path / "exported")], "refused for safety"),
        "--cnn-run": (bench + ["--cnn-run", str(payload_pt)], "expected a folder"),  # a save_cnn folder, never a .pt
        "--vdt-run": (bench + ["--vdt-run", str(payload_pt)], "not a JSON-lines"),
        "demo --checkpoint": (["demo", "--checkpoint", str(pickled_model), "--out", str(tmp_path / "demo")],
                              "only safetensors"),
    }
    for name, (argv, message) in attempts.items():
        as_subprocess = name in ("resume", "--cnn-run")  # the rest in this process, to keep the corpus fast
        assert_one_line_error(run_cli(*argv, cwd=tmp_path) if as_subprocess else main_in_process(argv, capfd), message)
        assert not marker.exists(), f"{name} ran the payload"
    with pytest.raises(checkpoints.CheckpointError, match="refused for safety"):
        checkpoints.read_state(smoke_run / "checkpoint")
    assert not marker.exists()
    torch.load(payload_pt, weights_only=False)  # the control: the payload is real
    assert marker.exists()
