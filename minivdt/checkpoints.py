"""A tool module, not a lesson: saving and loading checkpoints safely.

- Nothing is unpickled from a file: weights are safetensors, and the training state (`state.pt`, optimizer and
  schedule) is read with `torch.load(weights_only=True)`, which only rebuilds tensors and plain containers.
- Nothing touches the network: a model is built from its own config.json and weights, never through the hub.
- Loading is strict: a missing, unexpected or mis-shaped tensor, or a config that is not what the caller expects
  (e.g. another cond_mode), is an error, never a warning plus random weights.
- Every save writes a SHA256SUMS file (`sha256sum -c` format) next to the files it covers; a load verifies it
  when it is there, so flipped bytes are reported.
- A checkpoint is written to `checkpoint.tmp`, then `checkpoint` -> `checkpoint.old`, `checkpoint.tmp` ->
  `checkpoint`. A kill between the renames leaves a complete `.tmp` or `.old`, which `recover_checkpoint` puts back.
- Every failure is one line naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import pickle
import shutil
import socket
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

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


def verify_sums(folder: Path) -> bool:
    """Check every file listed in `folder/SHA256SUMS`; False if there is no such file (an older checkpoint)."""
    sums = folder / SUMS_FILE
    if not sums.is_file():
        return False
    for line in sums.read_text().splitlines():
        expected, _, name = line.partition("  ")
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing (listed in {sums})")
        if sha256(path) != expected:
            raise CheckpointError(f"{path} is corrupt: its SHA-256 differs from the one recorded in {sums}")
    return True


def write_atomic(path: Path, data: bytes):
    """Write bytes so that a crash leaves either the old file or the new one, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
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
    model.save_pretrained(folder, safe_serialization=True)
    write_sums(folder, [CONFIG_FILE, WEIGHTS_FILE])
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

    `expected` lists config values the model must have, e.g. {"cond_mode": "concat"}."""
    folder = model_folder(path)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    verify_sums(folder)
    model = VDT(**read_model_config(config_path, expected))
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path} is missing (only safetensors weights are loaded, never pickles)")
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path} is corrupt or not a safetensors file ({_one_line(error)})") from None
    load_strict(model, weights, weights_path)
    return model.to(device).eval()


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
    defaults = {name: p.default for name, p in inspect.signature(VDT.__init__).parameters.items() if name != "self"}
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


def _jsonish(value):
    return json.dumps(value)  # (32, 32) and [32, 32] are the same config value


def load_strict(module: torch.nn.Module, weights: dict, source: Path):
    """load_state_dict that reports missing, unexpected and mis-shaped tensors in one line naming `source`."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(own) & set(weights))
              if weights[k].shape != own[k].shape]
    problems = [f"{label}: {_short(items)}" for label, items in
                (("missing", missing), ("unexpected", unexpected), ("shape (file vs config)", shapes)) if items]
    if problems:
        raise CheckpointError(f"{source} does not match its config.json ({'; '.join(problems)})")
    module.load_state_dict(weights, strict=True)


def _short(items: list[str], limit: int = 4) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# --------------------------------------------------------------------------------------------
#  Training checkpoints: <run>/checkpoint/{model,ema}/ + state.pt
# --------------------------------------------------------------------------------------------

def save_checkpoint(out_dir: str | os.PathLike, model: VDT, ema_model: VDT, state: dict) -> Path:
    """Write model, EMA model and `state` to `out_dir/checkpoint`, replacing the previous one so that a kill at
    any instruction leaves one complete checkpoint (in `checkpoint`, `checkpoint.tmp` or `checkpoint.old`)."""
    out_dir = Path(out_dir)
    final, tmp, old = (out_dir / (CHECKPOINT_DIR + suffix) for suffix in ("", ".tmp", ".old"))
    if not final.exists():  # a crash between the renames of the last save: keep that checkpoint first
        recover_checkpoint(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp / "model")
    save_model(ema_model, tmp / "ema")
    torch.save(state, tmp / STATE_FILE)
    # written last: a .tmp with this file is complete
    write_sums(tmp, [STATE_FILE] + [f"{sub}/{name}" for sub in ("model", "ema") for name in (CONFIG_FILE, WEIGHTS_FILE)])
    _fsync_tree(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(checkpoint: str | os.PathLike) -> dict:
    """The training state of a checkpoint folder, without unpickling any code; one-line errors naming the file."""
    path = Path(checkpoint) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {checkpoint} is not a complete training checkpoint")
    verify_sums(Path(checkpoint))
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
    if isinstance(state["step"], bool) or not isinstance(state["step"], int) or state["step"] < 0 \
            or not isinstance(state["train_config"], dict):
        raise CheckpointError(f"{path} is not a minivdt training state: bad step or train_config")
    return state


def _is_complete(folder: Path) -> bool:
    """A checkpoint folder with every file, verified by its SHA256SUMS (older checkpoints: state.pt, written
    last by them, loads)."""
    files = [folder / STATE_FILE] + [folder / sub / name for sub in ("model", "ema") for name in (CONFIG_FILE, WEIGHTS_FILE)]
    if not all(path.is_file() for path in files):
        return False
    try:
        return verify_sums(folder) or bool(read_state(folder))
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
    """Rename the checkpoint find_checkpoint picks into `run_dir/checkpoint`; returns it, or None if none exists."""
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
    """Hold `out_dir/.lock` (pid and host of the owner) while training; a lock left by a dead process is taken over."""
    path = Path(out_dir) / LOCK_FILE
    me = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = _lock_owner(path)
            if owner is not None:
                raise RunLockedError(
                    f"run folder {str(out_dir)!r} is in use by process {owner} (its lock is {path}); wait for that "
                    f"training to end or pick another --out (delete the lock only if no such process runs)") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me + "\n")
        break
    else:
        raise RunLockedError(f"could not take the lock {path}: another process keeps creating it")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if path.read_text().strip() == me:
                path.unlink()


def _lock_owner(path: Path) -> str | None:
    """'pid host' of a live lock owner, None if the lock is stale (dead pid on this host, or unreadable)."""
    try:
        pid_text, _, host = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if host and host != socket.gethostname():
        return f"{pid} on {host}"  # cannot check another machine's processes: assume it is alive
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
