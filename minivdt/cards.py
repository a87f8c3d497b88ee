"""A tool module, not a lesson: the model card (`training.json`) of an exported model folder.

The card says how a model was trained (steps, wall-clock seconds over all sessions, the config, its learning rates
and task mixes by step, the machine) and how to sample it (the sampler and step count `minivdt bench sampler`
measured on validation clips). `minivdt bench quality` reads it to give the CNN baseline the same training time;
the demo and lessons 7-8 read its sampling choice.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from .checkpoints import (CARD_FILE, CheckpointError, LOG_FILE, MAX_SECONDS, MAX_STEP, check_fields, find_checkpoint,
                          load_model, log_entries, model_folder, read_json_object, read_state, save_model, write_atomic)
from .checks import check_output

# The card's numbers and their ranges: `bench quality` trains its CNN for train_seconds, so an Infinity there would
# never end, and a card is a text file anyone can edit.
CARD_BOUNDS = {"steps": ("int", 0, MAX_STEP), "train_seconds": ("float", 0, MAX_SECONDS),
               "num_train_clips": ("int", 1, 10**8), "batch_size": ("int", 1, 10**6)}


def read_card(folder: str | os.PathLike) -> dict:
    """A model folder's training.json (steps, train_seconds, train_config, sampling, ...), or {} if it has none.
    Its numbers must be in range (CARD_BOUNDS) and its train_config an object: one line naming the file if not."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        return {}
    card = read_json_object(path)
    check_fields(path, card, CARD_BOUNDS)
    for name in ("train_config", "init"):
        if not isinstance(card.get(name, {}), dict):
            raise CheckpointError(f"{path}: {name} must be a JSON object, got {type(card[name]).__name__}")
    check_fields(path, {k: v for k, v in (card.get("init") or {}).items() if v is not None}, CARD_BOUNDS)
    return card


# Kinds of sampling a card records a measured choice for: forward prediction of the deterministic scenarios, generation
# from nothing, and forward prediction of the stochastic scenarios (Lesson 9), where a sample must be a plausible
# future rather than the best single guess.
SAMPLING_TASKS = ("predict", "unconditional", "stochastic")


def sampling_of(folder: str | os.PathLike, task: str = "predict") -> tuple[str, int]:
    """(sampler, steps) to sample this model with: the choice `minivdt bench sampler --write-card` measured and
    stored in its card (forward prediction on validation clips; task="unconditional": the one whose samples hold
    as many balls as real clips), else the library's DEFAULT_SAMPLER and DEFAULT_STEPS."""
    from .diffusion import DEFAULT_SAMPLER, DEFAULT_STEPS, SCHEDULERS

    if task not in SAMPLING_TASKS:
        raise ValueError(f"task must be one of {SAMPLING_TASKS}, got {task!r}")
    choice = read_card(model_folder(folder)).get("sampling") or {}
    if task != "predict":  # "unconditional", "stochastic": their own entries, chosen by their own measurement
        choice = choice.get(task) or {}
    sampler, steps = choice.get("sampler", DEFAULT_SAMPLER), choice.get("steps", DEFAULT_STEPS)
    if sampler not in SCHEDULERS or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise CheckpointError(f"{Path(folder) / CARD_FILE} has an invalid sampling choice {choice!r}")
    return sampler, steps


def write_card_sampling(folder: str | os.PathLike, sampling: dict) -> Path:
    """Record the measured sampling choice {"sampler", "steps", ..., "unconditional": {"sampler", "steps"}} in a
    model folder's card."""
    folder = model_folder(folder)
    card = {**read_card(folder), "sampling": sampling}
    write_atomic(folder / CARD_FILE, (json.dumps(card, indent=1, default=str) + "\n").encode())
    return folder / CARD_FILE


def learning_rate_phases(run_dir: str | os.PathLike, warmup_steps: int = 0) -> list[dict]:
    """[{"from_step", "to_step", "lr"}, ...] after warm-up, from a run's log.jsonl: a resumed run may have changed
    its learning rate (`--learning-rate`), which the saved train_config alone (the last value) would hide."""
    path = Path(run_dir) / LOG_FILE
    phases: list[dict] = []
    if not path.is_file():
        return phases
    for _, row in log_entries(path):
        numbers = isinstance(row.get("step"), int) and isinstance(row.get("lr"), (int, float))
        if not numbers or not math.isfinite(row["lr"]) or row["step"] <= warmup_steps:
            continue  # a line a crash or an editor left unreadable says nothing about the learning rate
        if phases and abs(phases[-1]["lr"] - row["lr"]) <= 1e-12:
            phases[-1]["to_step"] = row["step"]
        else:
            phases.append({"from_step": phases[-1]["to_step"] if phases else warmup_steps, "to_step": row["step"],
                           "lr": row["lr"]})
    return phases


def task_weight_phases(state: dict) -> list[dict]:
    """[{"from_step", "task_weights"}, ...]: the task mixes a run trained with (a resumed run may change it).
    A checkpoint written before phases were recorded had one mix, its config's."""
    return state.get("task_weight_phases") or [{"from_step": 0,
                                                "task_weights": state["train_config"].get("task_weights")}]


def export_model(run_dir: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy a run's EMA weights to `dest` (a save_pretrained folder) with a training.json model card.

    training.json records steps, wall-clock training seconds, the training config and the machine, which
    `minivdt bench quality` reads to give its CNN baseline the same budget.
    """
    import platform
    import time

    if not isinstance(run_dir, (str, os.PathLike)) or not str(run_dir) or not Path(run_dir).is_dir():  # "" is not "."
        raise FileNotFoundError(f"run {str(run_dir)!r} is not an existing run folder")
    dest = check_output("dest", dest, "dir")
    checkpoint = find_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"run {str(run_dir)!r} has no checkpoint to export")
    state = read_state(checkpoint)
    cfg = state["train_config"]
    init = read_card(cfg["init_from"]) if cfg.get("init_from") else {}  # before dest, which may be the same folder
    model = load_model(checkpoint / "ema")
    save_model(model, dest)
    card = {
        "steps": state["step"],
        "train_seconds": round(state.get("train_seconds", 0.0), 1),
        "num_train_clips": cfg.get("num_train_clips"),
        "batch_size": cfg.get("batch_size"),
        "train_config": cfg,
        # where it was exported: the machine it trained on, unless the run moved (train_seconds span all sessions)
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "exported": time.strftime("%Y-%m-%d"),
        "learning_rates": learning_rate_phases(run_dir, cfg.get("warmup_steps", 0)),
        "task_weights": task_weight_phases(state),
    }
    if cfg.get("init_from"):  # a fine-tune: the model it started from, so its whole training time is known
        card["init"] = {"from": str(cfg["init_from"]), "steps": init.get("steps"),
                        "train_seconds": total_train_seconds(init), "exported": init.get("exported")}
    write_atomic(dest / CARD_FILE, (json.dumps(card, indent=1, default=str) + "\n").encode())
    return dest


def total_train_seconds(card: dict) -> float:
    """A model card's training seconds, those of the model it was fine-tuned from included (card["init"])."""
    return float(card.get("train_seconds") or 0.0) + float((card.get("init") or {}).get("train_seconds") or 0.0)


def training_config_of(path: str | os.PathLike) -> dict:
    """The training config a model was trained with (its world, scenarios, num_given, data, ...): from a run folder's
    checkpoint state or an exported folder's card; {} for a bare save_pretrained folder."""
    path = Path(path)
    if (path / CARD_FILE).is_file():
        return dict(read_card(path).get("train_config") or {})
    checkpoint = find_checkpoint(path) if path.is_dir() and not (path / "config.json").is_file() else None
    return dict(read_state(checkpoint)["train_config"]) if checkpoint is not None else {}


def num_given_of(path: str | os.PathLike, num_frames: int) -> int:
    """How many frames the model was trained to be given in the "predict" task: its training config's num_given
    (8 for the bundled model, the Physion setting); half the clip for a folder without one."""
    num_given = training_config_of(path).get("num_given", num_frames // 2)
    if isinstance(num_given, bool) or not isinstance(num_given, int) or not 1 <= num_given < num_frames:
        raise CheckpointError(f"{path}: num_given must be an int in [1, {num_frames - 1}], got {num_given!r}")
    return num_given
