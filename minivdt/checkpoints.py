"""A tool module, not a lesson: saving and loading checkpoints safely.

- Nothing is unpickled from a file: weights are safetensors, and the training state (`state.pt`, optimizer and
  schedule) is read with `torch.load(weights_only=True)`, which only rebuilds tensors and plain containers.
- Nothing touches the network: a model is built from its own config.json and weights, never through the hub.
- Loading is strict: a missing, unexpected or mis-shaped tensor, or a config that is not what the caller expects
  (e.g. another cond_mode), is an error, never a warning plus random weights.
- Every save writes a SHA256SUMS file (`sha256sum -c` format) next to the files it covers; a load verifies it and
  refuses a folder without one (or with an empty one), so flipped bytes are always reported.
- Weights must be what training could have produced: the model's floating dtype (never cast), finite, and below
  MAX_WEIGHT in magnitude; a run folder's EMA weights must have its training config's architecture (cond_mode...).
- A checkpoint is written to `checkpoint.tmp`, then `checkpoint` -> `checkpoint.old`, `checkpoint.tmp` ->
  `checkpoint`. A kill between the renames leaves a complete `.tmp` or `.old`, which `recover_checkpoint` puts back.
- A run folder is locked while a training writes there (`run_lock`: an flock(2) the kernel drops when its owner dies).
- Every failure is one line naming the file, a failed write (a full disk) included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import inspect
import json
import os
import pickle
import shutil
import socket
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .checks import check_float, check_int, writing
from .model import VDT, VDTConfig

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
LOG_FILE = "log.jsonl"
LOCK_FILE = ".lock"
SUMS_FILE = "SHA256SUMS"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"
CARD_FILE = "training.json"  # a model folder's card: how it was trained, and how to sample it
STATE_KEYS = ("step", "optimizer", "lr_scheduler", "ema", "train_config")
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE)  # what a model folder's SHA256SUMS must cover
MAX_WEIGHT = 1e4  # |weight| no trained VDT comes near (the bundled model's largest is 1.6); beyond it a run diverged
MAX_STEP = 10**9  # training steps a state or card may claim (a year at 30 steps a second)
MAX_SECONDS = 1e8  # training seconds a state or card may claim (three years)
LOCK_GRACE_S = 10.0  # an empty lock younger than this may still be being written by an older minivdt: not stale


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, unsafe or does not match what was asked for."""


# --------------------------------------------------------------------------------------------
#  Checksums
# --------------------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sums(folder: Path, names: list[str]):
    """Record the SHA-256 of `folder/name` for each name in `folder/SHA256SUMS`."""
    lines = "".join(f"{sha256(folder / name)}  {name}\n" for name in names)
    write_atomic(folder / SUMS_FILE, lines.encode())


def verify_sums(folder: Path, required: tuple[str, ...] = ()) -> None:
    """Check every file listed in `folder/SHA256SUMS`, which must exist, list at least one file and list each of
    `required`: without it a flipped byte in the weights would load unnoticed."""
    folder = Path(folder)
    sums = folder / SUMS_FILE
    if not sums.is_file():
        raise CheckpointError(
            f"{sums} is missing: minivdt loads only folders with the checksums that checkpoints.save_model, training "
            f"and `minivdt export` write (save_pretrained writes none; for a folder you trust, add them with "
            f"minivdt.checkpoints.write_sums(folder, {list(required) or list(MODEL_FILES)}))")
    try:
        lines = [line for line in sums.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{sums} is unreadable ({_one_line(error)})") from None
    listed = {}
    for line in lines:
        expected, _, name = line.partition("  ")
        if len(expected) != 64 or set(expected) - set("0123456789abcdef") or not name \
                or Path(name).is_absolute() or ".." in Path(name).parts:
            raise CheckpointError(f"{sums} has a line that is not '<sha256>  <file in this folder>': {line[:100]!r}")
        listed[name] = expected
    if not listed:
        raise CheckpointError(f"{sums} is empty: it must list the SHA-256 of {list(required) or 'the folder files'}")
    unlisted = [name for name in required if name not in listed]
    if unlisted:
        raise CheckpointError(f"{sums} does not list {unlisted}: those files cannot be verified")
    for name, expected in listed.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing (listed in {sums})")
        if sha256(path) != expected:
            raise CheckpointError(f"{path} is corrupt: its SHA-256 differs from the one recorded in {sums}")


def write_atomic(path: Path, data: bytes):
    """Write bytes so that a crash leaves either the old file or the new one, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)


def _fsync_tree(folder: Path):
    """Flush a freshly written folder to disk, so a power cut cannot leave a renamed but empty checkpoint."""
    for path in sorted(folder.rglob("*"), reverse=True) + [folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
#  Models
# --------------------------------------------------------------------------------------------

def save_model(model: VDT, folder: str | os.PathLike) -> Path:
    """save_pretrained (safetensors) plus a SHA256SUMS of its two files."""
    folder = Path(folder)
    with writing(folder):
        model.save_pretrained(folder, safe_serialization=True)
    write_sums(folder, list(MODEL_FILES))
    return folder


def model_folder(path: str | os.PathLike) -> Path:
    """The model folder behind `path`: itself, or a run folder's EMA weights (after a crash, in .tmp or .old)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"checkpoint must be a path to a local folder, got {path!r}")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint {str(path)!r} is not an existing local folder (expected a folder "
                                f"with config.json, written by save_pretrained or `minivdt export`, or a run folder)")
    if (path / CONFIG_FILE).is_file():
        return path
    checkpoint = find_checkpoint(path)
    if checkpoint is not None:
        return checkpoint / "ema"
    raise FileNotFoundError(f"checkpoint {str(path)!r} has no config.json: expected a folder written by "
                            f"save_pretrained or a run folder with a complete checkpoint")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", expected: dict | None = None) -> VDT:
    """Load a VDT from a local folder (or a run folder, taking its EMA weights), strictly and without the network.

    `expected` lists config values the model must have, e.g. {"cond_mode": "concat"}. A folder inside a training
    checkpoint (`model/`, `ema/`) must also have the architecture of that run's training config."""
    folder = model_folder(path)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path} is missing (only safetensors weights are loaded, never pickles)")
    verify_sums(folder, MODEL_FILES)
    kwargs = read_model_config(config_path, expected)
    check_run_architecture(folder, kwargs)
    model = VDT(**kwargs)
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path} is corrupt or not a safetensors file ({_one_line(error)})") from None
    load_strict(model, weights, weights_path)
    return model.to(device).eval()


def check_run_architecture(folder: Path, kwargs: dict):
    """A checkpoint's `model/` or `ema/` folder must hold the architecture its state.pt says the run trains: a
    swapped-in folder of another run (another cond_mode, width, ...) is an error, not a silently different model."""
    checkpoint = folder.parent
    if folder.name not in ("model", "ema") or not (checkpoint / STATE_FILE).is_file():
        return
    state_path = checkpoint / STATE_FILE
    run_kwargs = run_model_kwargs(read_state(checkpoint)["train_config"], state_path)
    defaults = _vdt_defaults()
    for name, value in run_kwargs.items():
        found = kwargs.get(name, defaults.get(name))
        if _jsonish(found) != _jsonish(value):
            raise CheckpointError(f"{folder / CONFIG_FILE} has {name}={found!r}, but its run's training config "
                                  f"({state_path}) trains {name}={value!r}: the folder is not this run's")


def run_model_kwargs(train_config: dict, source: Path) -> dict:
    """The VDT keyword arguments a saved training config trains (TrainConfig.model_kwargs); with a tokenizer, the
    latent size and channels are left out (they need the tokenizer's folder, which may have moved)."""
    from .train_config import TrainConfig

    names = {field.name for field in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in train_config.items() if k in names}
    try:
        kwargs = TrainConfig(**{**saved, "tokenizer": None}).model_kwargs()
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source} holds an invalid train_config ({_one_line(error)[:200]})") from None
    if saved.get("tokenizer") is not None:
        kwargs = {k: v for k, v in kwargs.items() if k not in ("input_size", "in_channels")}
    return kwargs


def read_json_object(path: Path) -> dict:
    """A JSON file that must hold an object, with one clear error for anything else."""
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is unreadable or not JSON ({_one_line(error)})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def read_model_config(config_path: Path, expected: dict | None = None) -> dict:
    """The VDT keyword arguments stored in a config.json; unknown keys and unexpected values are errors."""
    config = read_json_object(config_path)
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}  # diffusers' _class_name, _diffusers_version
    defaults = _vdt_defaults()
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise CheckpointError(f"{config_path} has keys a VDT does not take: {unknown}")
    for name, value in (expected or {}).items():
        found = kwargs.get(name, defaults[name])
        if _jsonish(found) != _jsonish(value):
            raise CheckpointError(f"{config_path} has {name}={found!r}, but {value!r} is expected")
    try:
        VDTConfig(**kwargs)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{config_path} is not a valid VDT config: {_one_line(error)}") from None
    return kwargs


def _vdt_defaults() -> dict:
    return {name: p.default for name, p in inspect.signature(VDT.__init__).parameters.items() if name != "self"}


def _jsonish(value):
    return json.dumps(value)  # (32, 32) and [32, 32] are the same config value


def load_strict(module: torch.nn.Module, weights: dict, source: Path):
    """load_state_dict that reports missing, unexpected and mis-shaped tensors in one line naming `source`, and
    refuses weights no training could have produced (check_weights)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(own) & set(weights))
              if weights[k].shape != own[k].shape]
    problems = [f"{label}: {_short(items)}" for label, items in
                (("missing", missing), ("unexpected", unexpected), ("shape (file vs config)", shapes)) if items]
    if problems:
        raise CheckpointError(f"{source} does not match its config.json ({'; '.join(problems)})")
    check_weights(weights, own, source)
    module.load_state_dict(weights, strict=True)


def check_weights(weights: dict, own: dict, source: Path):
    """Refuse tensors of another dtype than the model's (an int64, bool or uint8 file is not cast into floats),
    NaN or ±inf, or larger than MAX_WEIGHT in magnitude (a diverged run's weights sample black frames)."""
    dtypes = [f"{k} is {weights[k].dtype}, not {own[k].dtype}" for k in sorted(own) if weights[k].dtype != own[k].dtype]
    if dtypes:
        raise CheckpointError(f"{source} holds tensors of another dtype than the model's ({_short(dtypes, 2)}): "
                              f"refused, not cast")
    floats = {k: w for k, w in weights.items() if w.is_floating_point() and w.numel()}
    not_finite = [k for k in sorted(floats) if not bool(torch.isfinite(floats[k]).all())]
    if not_finite:
        raise CheckpointError(f"{source} holds NaN or infinite weights ({_short(not_finite)}): a diverged run? "
                              f"Load an earlier checkpoint")
    largest = max(floats, key=lambda k: float(floats[k].abs().max()), default=None)
    if largest is not None and float(floats[largest].abs().max()) > MAX_WEIGHT:
        raise CheckpointError(f"{source} holds a weight of magnitude {float(floats[largest].abs().max()):.3g} in "
                              f"{largest}, beyond the {MAX_WEIGHT:g} no trained VDT reaches: a diverged run? "
                              f"Load an earlier checkpoint")


def _short(items: list[str], limit: int = 4) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# --------------------------------------------------------------------------------------------
#  Training checkpoints: <run>/checkpoint/{model,ema}/ + state.pt
# --------------------------------------------------------------------------------------------

def save_checkpoint(out_dir: str | os.PathLike, model: VDT, ema_model: VDT, state: dict) -> Path:
    """Write model, EMA model and `state` to `out_dir/checkpoint`, replacing the previous one so that a kill at
    any instruction leaves one complete checkpoint (in `checkpoint`, `checkpoint.tmp` or `checkpoint.old`).
    A failed write (a full disk) removes the partial `checkpoint.tmp` and names the file; `checkpoint` is kept."""
    out_dir = Path(out_dir)
    final, tmp, old = (out_dir / (CHECKPOINT_DIR + suffix) for suffix in ("", ".tmp", ".old"))
    if not final.exists():  # a crash between the renames of the last save: keep that checkpoint first
        recover_checkpoint(out_dir)
    check_not_linked(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_model(model, tmp / "model")
        save_model(ema_model, tmp / "ema")
        with writing(tmp / STATE_FILE):
            torch.save(state, tmp / STATE_FILE)
        # written last: a .tmp with this file is complete
        write_sums(tmp, [STATE_FILE] + [f"{sub}/{name}" for sub in ("model", "ema") for name in MODEL_FILES])
        _fsync_tree(tmp)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = f"the checkpoint in {final} is kept" if final.exists() else "no checkpoint was written"
        raise OSError(error.errno, f"{error.strerror or _one_line(error)}; {kept}") from None
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def check_not_linked(run_dir: str | os.PathLike):
    """A checkpoint folder that is a symbolic link would be renamed as a link and break every later save: refused."""
    for suffix in ("", ".tmp", ".old"):
        path = Path(run_dir) / (CHECKPOINT_DIR + suffix)
        if path.is_symlink():
            raise CheckpointError(f"{path} is a symbolic link: training replaces {CHECKPOINT_DIR}/ by renaming folders "
                                  f"inside {run_dir}, which cannot follow a link; move its target there instead (to "
                                  f"train on another disk, make the run folder itself the link or use --out there)")


def read_state(checkpoint: str | os.PathLike) -> dict:
    """The training state of a checkpoint folder, without unpickling any code; one-line errors naming the file."""
    path = Path(checkpoint) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {checkpoint} is not a complete training checkpoint")
    verify_sums(Path(checkpoint), (STATE_FILE,))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path} holds objects other than tensors and plain data, refused for safety "
                              f"({_one_line(error)[:200]})") from None
    except Exception as error:  # zip, EOF and unpickling errors all mean a broken file to the user
        raise CheckpointError(f"{path} is corrupt ({_one_line(error)[:200]})") from None
    if not isinstance(state, dict) or any(key not in state for key in STATE_KEYS):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a minivdt training state: expected keys {list(STATE_KEYS)}, got {keys}")
    if not isinstance(state["train_config"], dict):
        raise CheckpointError(f"{path} is not a minivdt training state: train_config is a "
                              f"{type(state['train_config']).__name__}, not a dict")
    check_fields(path, state, {"step": ("int", 0, MAX_STEP), "train_seconds": ("float", 0, MAX_SECONDS)})
    phases = state.get("task_weight_phases")
    if phases is not None and (not isinstance(phases, list) or not all(
            isinstance(p, dict) and isinstance(p.get("task_weights"), dict) for p in phases)):
        raise CheckpointError(f"{path} has a task_weight_phases that is not a list of {{from_step, task_weights}}")
    for phase in phases or []:
        check_fields(path, phase, {"from_step": ("int", 0, state["step"])})
    return state


def check_fields(source: Path, values: dict, bounds: dict):
    """Each of `bounds` {name: ("int" | "float", low, high)} present in `values` must be in range: one line naming
    the file, the field and the range (a crafted step of 1e30 or train_seconds of Infinity)."""
    for name, (kind, low, high) in bounds.items():
        if name not in values:
            continue
        try:
            (check_int if kind == "int" else check_float)(name, values[name], low, high)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{source}: {error}") from None


def _is_complete(folder: Path) -> bool:
    """A checkpoint folder with every file, verified by its SHA256SUMS (written last, so a save cut short has none)."""
    names = [STATE_FILE] + [f"{sub}/{name}" for sub in ("model", "ema") for name in MODEL_FILES]
    if not all((folder / name).is_file() for name in names):
        return False
    try:
        verify_sums(folder, tuple(names))
        return bool(read_state(folder))
    except CheckpointError:
        return False


def find_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The run's checkpoint folder: `checkpoint`, or after a crash between renames the newest complete one of
    `checkpoint.tmp` and `checkpoint.old`; None if there is none."""
    run_dir = Path(run_dir)
    final = run_dir / CHECKPOINT_DIR
    if final.is_dir():
        return final
    candidates = [folder for folder in (run_dir / (CHECKPOINT_DIR + ".tmp"), run_dir / (CHECKPOINT_DIR + ".old"))
                  if folder.is_dir() and _is_complete(folder)]
    return max(candidates, key=lambda folder: read_state(folder)["step"], default=None)


def recover_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """Rename the checkpoint find_checkpoint picks into `run_dir/checkpoint`; returns it, or None if none exists.
    A checkpoint folder that is a symbolic link is refused (check_not_linked)."""
    check_not_linked(run_dir)
    found = find_checkpoint(run_dir)
    final = Path(run_dir) / CHECKPOINT_DIR
    if found is not None and found != final:
        os.rename(found, final)
        print(f"recovered the checkpoint of step {read_state(final)['step']} from {found.name} "
              f"(a previous save was interrupted)")
    return None if found is None else final


# --------------------------------------------------------------------------------------------
#  Run folder: a lock while a training writes, and a log that matches the checkpoint
# --------------------------------------------------------------------------------------------

class RunLockedError(RuntimeError):
    """Another live process trains into the same run folder."""


@contextlib.contextmanager
def run_lock(out_dir: str | os.PathLike):
    """Hold `out_dir/.lock` while training: an flock(2) on the file, which the kernel gives to one process at a time
    and drops when its owner dies (so a lock left by a killed training is taken over), with the owner's "pid host"
    written inside for the error message. A lock without a live flock that names a live process (an older minivdt,
    which wrote the pid only), or is empty and younger than LOCK_GRACE_S (its writer may be between creating and
    writing it), is also respected."""
    path = Path(out_dir) / LOCK_FILE
    fd = _take_lock(path, out_dir)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                path.unlink()  # before the flock goes: a process that opened this file sees it is gone and retries
        os.close(fd)


def _take_lock(path: Path, out_dir) -> int:
    """The open, flocked and written lock file's descriptor; RunLockedError if another process holds it."""
    me = f"{os.getpid()} {socket.gethostname()}\n".encode()
    for _ in range(100):
        try:
            fd, created = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            try:
                fd, created = os.open(path, os.O_RDWR), False
            except FileNotFoundError:
                continue  # released between the two opens
        try:
            # the creator waits a moment: another process may hold the new file's flock to look at it (and let go)
            if not _flock(fd, wait_s=1.0 if created else 0.0):
                raise RunLockedError(_locked_message(out_dir, path, _lock_owner(_read_lock(path), mine_too=True)))
            if not _same_file(fd, path):  # its owner released (unlinked) it after our open: take the new one
                os.close(fd)
                continue
            if not created:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
                owner = _lock_owner(text)
                if owner is not None:
                    raise RunLockedError(_locked_message(out_dir, path, owner))
                if not text.strip() and time.time() - os.fstat(fd).st_mtime < LOCK_GRACE_S:
                    raise RunLockedError(_locked_message(out_dir, path, None, "which is writing its lock now"))
            os.pwrite(fd, me, 0)  # the pid first, then the length: a reader never sees an empty lock of ours
            os.ftruncate(fd, len(me))
            os.fsync(fd)
            return fd
        except BaseException:
            os.close(fd)
            raise
    raise RunLockedError(f"could not take the lock {path}: other processes keep taking and releasing it")


def _flock(fd: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _read_lock(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _locked_message(out_dir, path: Path, owner: str | None, note: str = "") -> str:
    who = f"process {owner}" if owner else "another process"
    return (f"run folder {str(out_dir)!r} is in use by {who}{' ' + note if note else ''} (its lock is {path}); wait "
            f"for that training to end or pick another --out (delete the lock only if no such process runs)")


def _lock_owner(text: str, mine_too: bool = False) -> str | None:
    """'pid host' (first line of a lock) of a live owner, None if it names none (a dead pid on this host, no pid at
    all, or unless `mine_too` this process's own pid: a lock this process holds has its flock)."""
    pid_text, _, host = (text.splitlines() or [""])[0].strip().partition(" ")
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    if pid <= 0:
        return None
    if host and host != socket.gethostname():
        return f"{pid} on {host}"  # cannot check another machine's processes: assume it is alive
    if pid == os.getpid():
        return str(pid) if mine_too else None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    return str(pid)


def log_entries(path: Path):
    """(line, entry) for every line of a log.jsonl that parses to a JSON object; a torn line is skipped."""
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            yield line, entry


def trim_log(out_dir: str | os.PathLike, step: int):
    """Drop log lines after `step` (written after the checkpoint a resume starts from) and any torn last line."""
    path = Path(out_dir) / LOG_FILE
    if not path.exists():
        return
    kept = [line for line, entry in log_entries(path)
            if isinstance(entry.get("step"), int) and entry["step"] <= step]
    write_atomic(path, "".join(line + "\n" for line in kept).encode())
