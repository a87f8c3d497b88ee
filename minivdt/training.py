"""Lesson 5 — notebooks/05_vdt_block.ipynb. Training: a small, resumable loop for VDT with unified mask modeling.

The loop knows nothing about the model's internals: it draws a batch of clips, gives every clip a mask
task from a configurable mix, and minimises the masked diffusion loss. It runs single-process on a CPU
or a GPU, or multi-process through `accelerate launch`. Checkpoints hold everything the next step
needs (weights, EMA, optimizer, LR schedule, step), and the data, masks and noise of step `s` are a
pure function of `(seed, s)`, so `--resume` continues exactly where an interrupted run stopped.
What a run is (TrainConfig and the presets) lives in minivdt.train_config; it is importable from here too.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel

from . import checkpoints
from .cards import export_model, task_weight_phases  # noqa: F401 (export_model: minivdt.training's API)
from .checkpoints import (CHECKPOINT_DIR, LOG_FILE, STATE_FILE, load_model, log_entries,  # noqa: F401
                          read_state)
from .checks import check_int, check_output, writing
from .data import BallClips, to_tensor
from .diffusion import make_scheduler, training_loss, validation_loss
from .masks import TaskMix, make_mask
from .model import VDT
from .progress import progress_bar
from .tokenizer import downsample_factor, downsample_mask, encode_video, load_tokenizer
from .train_config import RESUMABLE_CHANGES, TRAIN_PRESETS, TrainConfig, make_train_config  # noqa: F401
from .world import make_world


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (AVX-512 BF16 or AMX). Without them torch emulates bf16: on an
    AVX2-only EPYC a bf16 matmul ran at 0.3 GFLOP/s against 118 in fp32 (`minivdt bench speed`)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_mixed_precision(setting: str) -> str:
    """Pick the autocast dtype for this machine: never fp16 on a CPU, bf16 only on a CPU with bf16 units."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if torch.backends.mps.is_available():
        return "no"
    return "bf16" if cpu_has_bf16() else "no"


def pick_device() -> torch.device:
    """cuda, then Apple's mps, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --------------------------------------------------------------------------------------------
#  Batches: a pure function of (seed, step), so a resumed run sees exactly the data it would have
# --------------------------------------------------------------------------------------------

def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The torch generator for one step's masks, timesteps and noise on one process."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0]))


def make_batch(videos: torch.Tensor, cfg: TrainConfig, step: int, rank: int, num_processes: int, vae=None,
               device=None):
    """This process's share of step `step` on `device`: clips (b, F, C, H, W) in [-1, 1] and masks (b, F, 1, H, W).

    The clips travel as uint8 and become floats on `device`: on a GPU that conversion on the CPU was most of a
    small model's step. With a tokenizer `vae` the clips are its latents and the masks are max-pooled to the
    latent grid."""
    rng = np.random.default_rng([cfg.seed, step])
    indices = rng.choice(len(videos), size=cfg.batch_size, replace=len(videos) < cfg.batch_size)
    per_rank = cfg.batch_size // num_processes
    indices = indices[rank * per_rank:(rank + 1) * per_rank]
    x0 = to_tensor(videos[indices].to(device))  # (b, F, C, H, W)
    generator = step_generator(cfg.seed, step, rank)
    _, num_frames, _, height, width = x0.shape
    factor = 1 if vae is None else downsample_factor(vae)
    patch_size = cfg.model_kwargs()["patch_size"] * factor  # spatial masks line up with the model's patches
    mask, _ = TaskMix(cfg.task_weights)(per_rank, num_frames, height, width, num_given=cfg.num_given,
                                        patch_size=patch_size, generator=generator)  # one task drawn per clip
    if vae is not None:
        x0, mask = encode_video(vae, x0), downsample_mask(mask, factor)  # (b, F, c, H/s, W/s), (b, F, 1, H/s, W/s)
    return x0, mask.to(device), generator


def load_training_videos(cfg: TrainConfig) -> torch.Tensor:
    """The fixed training set as a uint8 tensor (N, F, H, W, 3), never modified in place.

    The last set stays in memory: a lesson's timing probe and the run after it (course.train_with_estimate), or
    the runs of one comparison, share their clips instead of simulating them again. With cfg.data the clips are the
    user's (their training files; the validation files are never among them)."""
    if cfg.data is not None:
        return torch.from_numpy(user_clips(cfg).train)
    per_scenario = max(1, cfg.num_train_clips // len(cfg.scenarios))
    world = json.dumps(cfg.world, sort_keys=True)  # hashable, for the cache
    return _training_clips(cfg.image_size, cfg.num_frames, world, tuple(cfg.scenarios), per_scenario)


@functools.lru_cache(maxsize=1)
def _training_clips(image_size: int, num_frames: int, world: str, scenarios: tuple, per_scenario: int) -> torch.Tensor:
    config = make_world(json.loads(world), size=image_size, num_frames=num_frames)
    dataset = BallClips("train", scenarios=scenarios, num_clips=per_scenario, config=config)
    return torch.from_numpy(dataset.get_batch().frames)


def user_clips(cfg: TrainConfig):
    """cfg.data read as user_clips.UserClips at the run's frame count and size (cached: read once per process)."""
    return _user_clips(str(cfg.data), cfg.num_frames, cfg.image_size, cfg.seed)


@functools.lru_cache(maxsize=1)
def _user_clips(path: str, num_frames: int, size: int, seed: int):
    from .user_clips import load_clips

    return load_clips(path, num_frames=num_frames, size=size, seed=seed)


def validation_batch(cfg: TrainConfig, num_clips: int = 16):
    """Fixed clips and "predict" masks of the run's validation loss: val-split clips of its scenarios (or the user's
    validation files), the same at every step and on every resume."""
    if cfg.data is not None:
        frames = user_clips(cfg).val[:num_clips]
    else:
        per_scenario = max(1, num_clips // len(cfg.scenarios))
        frames = BallClips("val", scenarios=cfg.scenarios, num_clips=per_scenario,
                           config=cfg.world_config()).get_batch().frames
    x0 = to_tensor(frames)  # (b, F, C, H, W)
    B, F, _, H, W = x0.shape
    mask = make_mask("predict", B, F, H, W, num_given=cfg.num_given, patch_size=cfg.model_kwargs()["patch_size"])
    return x0, mask


# --------------------------------------------------------------------------------------------
#  Checkpoints
# --------------------------------------------------------------------------------------------

def save_checkpoint(out_dir: Path, model: VDT, ema: EMAModel, optimizer, lr_scheduler, step: int, cfg: TrainConfig,
                    train_seconds: float = 0.0, task_weight_phases: list | None = None):
    """Write model, EMA model and optimizer state to `out_dir/checkpoint`, replacing it atomically.
    task_weight_phases: [{"from_step", "task_weights"}, ...], the task mixes of the run so far."""
    checkpoints.save_checkpoint(out_dir, model, _ema_copy(model, ema), {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": lr_scheduler.state_dict(),
        "ema": ema.state_dict(),
        "train_config": dataclasses.asdict(cfg),
        "train_seconds": train_seconds,  # wall-clock training time over all sessions of this run
        "task_weight_phases": task_weight_phases,  # None: one mix, the config's (cards.task_weight_phases)
    })


def _load_state(out_dir: Path, cfg: TrainConfig):
    ckpt = out_dir / CHECKPOINT_DIR
    state = read_state(ckpt)
    # a field added to TrainConfig after the run started counts as unchanged while it holds its default
    defaults = dataclasses.asdict(TrainConfig())
    saved = {**defaults, **state["train_config"]}
    mine = dataclasses.asdict(cfg)
    changed = [k for k in mine if k not in RESUMABLE_CHANGES
               and json.dumps(saved.get(k), default=str) != json.dumps(mine[k], default=str)]
    if changed:
        raise ValueError(f"cannot resume {ckpt}: the training config differs in {changed} (only {RESUMABLE_CHANGES} "
                         "may change); resume with the same settings or start a new out_dir")
    return state


def _set_learning_rate(optimizer, lr_scheduler, learning_rate: float):
    """Give a resumed run a new base learning rate; the warm-up factor at the current step still applies."""
    lr_scheduler.base_lrs = [learning_rate] * len(optimizer.param_groups)
    for group, factor in zip(optimizer.param_groups, lr_scheduler.lr_lambdas):
        group["initial_lr"] = learning_rate
        group["lr"] = learning_rate * factor(lr_scheduler.last_epoch)
    lr_scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def _all_finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


# --------------------------------------------------------------------------------------------
#  The loop
# --------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    step: int
    losses: list[float]  # of this call's steps
    seconds: float  # this call's training time
    out_dir: str
    total_seconds: float  # training time of the whole run, earlier sessions included


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          callback: Callable[[int, VDT, float], None] | None = None, callback_every: int = 0) -> TrainResult:
    """Train (or continue training) a VDT as `cfg` says; returns the final step and the losses of this call.

    `callback(step, ema_model, seconds)` is called every `callback_every` steps with the EMA weights,
    e.g. to trace a learning curve. `resume=True` continues from `cfg.out_dir`'s checkpoint and is an error
    if there is none. While it runs, the run folder is locked against a second training.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig (see make_train_config), got {type(cfg).__name__}")
    check_int("callback_every", callback_every, 0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    check_output("out_dir", cfg.out_dir, "dir")
    # Tiny Adam moments of the zero-initialised adaLN layers can underflow into denormal floats, which x86 CPUs
    # handle very slowly; flushing them costs nothing.
    torch.set_flush_denormal(True)
    # accelerate keeps one global state per process and refuses a second Accelerator with another precision;
    # a notebook that trains several runs in one kernel needs a fresh one each time. The process group
    # (PartialState) is kept, so this is safe under `accelerate launch`.
    AcceleratorState._reset_state()
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(cfg.mixed_precision))
    if cfg.batch_size % accelerator.num_processes:
        raise ValueError(f"batch_size ({cfg.batch_size}) must be divisible by the number of processes "
                         f"({accelerator.num_processes})")
    out_dir = Path(cfg.out_dir)
    with contextlib.ExitStack() as stack:
        if accelerator.is_main_process:
            if resume and checkpoints.find_checkpoint(out_dir) is None:
                raise FileNotFoundError(f"cannot resume: {out_dir} has no checkpoint; drop --resume (resume=False) "
                                        "to start a new run there")
            out_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(checkpoints.run_lock(out_dir))
            found = checkpoints.recover_checkpoint(out_dir)  # under the lock: no other process is saving
            if resume and found is None:
                raise FileNotFoundError(f"cannot resume: {out_dir} has no checkpoint")
            if not resume and found is not None:  # a new run would overwrite it at its first save
                raise FileExistsError(f"{out_dir} already holds a checkpoint: pass --resume (resume=True) to continue "
                                      "it, or choose another out_dir for a new run")
        accelerator.wait_for_everyone()
        return _train(cfg, accelerator, out_dir, resume, progress, callback, callback_every)


def _train(cfg, accelerator, out_dir, resume, progress, callback, callback_every) -> TrainResult:
    torch.manual_seed(cfg.seed)  # weight initialisation: identical on every process
    model = VDT(**cfg.model_kwargs())
    if cfg.init_from is not None and not resume:  # fine-tuning: start from a trained model's (EMA) weights
        model = load_model(cfg.init_from, expected=cfg.model_kwargs()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=cfg.warmup_steps)
    ema = EMAModel(model.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
    noise_scheduler = make_scheduler("ddpm", prediction_type=cfg.prediction_type)

    start_step, seconds_before = 0, 0.0
    task_phases = [{"from_step": 0, "task_weights": dict(cfg.task_weights)}]
    if resume:
        state = _load_state(out_dir, cfg)
        model = load_model(out_dir / CHECKPOINT_DIR / "model", expected=cfg.model_kwargs()).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        # The scheduler first: creating it writes the step-0 learning rate into the optimizer, which the
        # saved optimizer state must then overwrite (the other order resumes with a warm-up LR of 0).
        lr_scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=cfg.warmup_steps)
        ema = EMAModel(model.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
        try:
            optimizer.load_state_dict(state["optimizer"])
            lr_scheduler.load_state_dict(state["lr_scheduler"])
            ema.load_state_dict(state["ema"])
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise checkpoints.CheckpointError(f"{out_dir / CHECKPOINT_DIR / STATE_FILE} does not match the model "
                                              f"({checkpoints._one_line(error)[:200]})") from None
        if state["train_config"].get("learning_rate") != cfg.learning_rate:
            _set_learning_rate(optimizer, lr_scheduler, cfg.learning_rate)
        start_step, seconds_before = state["step"], state.get("train_seconds", 0.0)
        task_phases = task_weight_phases(state)
        if task_phases[-1]["task_weights"] != cfg.task_weights:  # a new mix from this step on
            task_phases.append({"from_step": start_step, "task_weights": dict(cfg.task_weights)})
        if accelerator.is_main_process:
            checkpoints.trim_log(out_dir, start_step)  # lines after the checkpoint would repeat their steps

    videos = load_training_videos(cfg)
    if accelerator.is_main_process and cfg.data is not None:
        print(f"clips: {user_clips(cfg).summary()}; the model takes {cfg.num_frames} frames at "
              f"{cfg.image_size}x{cfg.image_size}", flush=True)
    val_x0, val_mask = validation_batch(cfg) if cfg.tokenizer is None else (None, None)
    vae = None if cfg.tokenizer is None else load_tokenizer(cfg.tokenizer, accelerator.device)
    model, optimizer, lr_scheduler = accelerator.prepare(model, optimizer, lr_scheduler)
    ema.to(accelerator.device)
    raw_model = accelerator.unwrap_model(model)

    def save(step, seconds):
        if accelerator.is_main_process:
            save_checkpoint(out_dir, raw_model, ema, optimizer, lr_scheduler, step, cfg, seconds, task_phases)

    losses: list[float] = []
    t0 = time.perf_counter()
    bar = progress_bar(range(start_step, cfg.max_steps), initial=start_step, total=cfg.max_steps,
                       disable=not (progress and accelerator.is_local_main_process), desc="train")
    done, saved, pending = start_step, start_step, None
    for step in bar:
        model.train()
        x0, mask, generator = make_batch(videos, cfg, step, accelerator.process_index, accelerator.num_processes, vae,
                                         accelerator.device)
        with accelerator.autocast():
            loss = training_loss(model, x0, mask, noise_scheduler, generator=generator,
                                 timestep_sampling=cfg.timestep_sampling, loss_weighting=cfg.loss_weighting)
        if not torch.isfinite(loss):
            # a tenth of the rate that diverged, but never above the library's default: a runaway 1e30 gets 3e-4
            lower = min(cfg.learning_rate / 10, TrainConfig.learning_rate)
            kept = (f"The checkpoint of step {saved} (the last whose weights gave a finite loss) is kept in "
                    f"{out_dir / CHECKPOINT_DIR}; resume from it with a lower learning rate (and the same --preset "
                    f"and options): minivdt train --resume --learning-rate {lower:g} --out {out_dir}") \
                if saved else \
                f"No checkpoint was written; start again with a lower learning rate (e.g. --learning-rate {lower:g})."
            raise FloatingPointError(f"training loss became {loss.item()} at step {step}; stopping. {kept}")
        if pending is not None:  # these weights just gave a finite loss: now they may replace the last checkpoint
            save(*pending)
            saved, pending = pending[0], None
        accelerator.backward(loss)
        if cfg.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(raw_model.parameters())

        mean_loss = accelerator.reduce(loss.detach().float(), reduction="mean").item()
        losses.append(mean_loss)
        done = step + 1
        elapsed = time.perf_counter() - t0
        total_seconds = seconds_before + elapsed
        if accelerator.is_main_process:
            if progress and done == start_step + ESTIMATE_STEPS and cfg.max_steps > done:
                bar.write(estimate_line(elapsed / ESTIMATE_STEPS, cfg.max_steps - done, cfg.time_budget_s, elapsed))
            validate = val_x0 is not None and done % cfg.checkpoint_every == 0
            if done % cfg.log_every == 0 or done == cfg.max_steps or validate:
                bar.set_postfix(loss=f"{np.mean(losses[-cfg.log_every:]):.4f}", refresh=False)
                line = {"step": done, "loss": mean_loss, "lr": lr_scheduler.get_last_lr()[0],
                        "seconds": round(total_seconds, 3)}
                if validate:  # the masked loss on fixed validation clips, noise and timesteps; not training time
                    paused = time.perf_counter()
                    line["val_loss"] = _validation_loss(raw_model, val_x0, val_mask, noise_scheduler, cfg,
                                                        accelerator.device)
                    t0 += time.perf_counter() - paused
                with writing(out_dir / LOG_FILE), open(out_dir / LOG_FILE, "a") as log:
                    log.write(json.dumps(line) + "\n")
            if callback is not None and callback_every and done % callback_every == 0:
                paused = time.perf_counter()
                callback(done, _ema_copy(raw_model, ema), total_seconds)
                t0 += time.perf_counter() - paused  # evaluation time is not training time
        if done % cfg.checkpoint_every == 0:
            pending = (done, total_seconds)  # saved once the next step's loss shows these weights are finite
        accelerator.wait_for_everyone()
        if cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s:
            break
    bar.close()

    seconds = time.perf_counter() - t0
    if done > saved:  # the last weights have no next loss to vouch for them: check them directly
        if not _all_finite(raw_model):
            raise FloatingPointError(f"the weights after step {done} are not finite; the checkpoint of step {saved} "
                                     f"is kept in {out_dir / CHECKPOINT_DIR}; resume from it with a lower learning rate")
        save(done, seconds_before + seconds)
    accelerator.wait_for_everyone()
    return TrainResult(step=done, losses=losses, seconds=seconds, out_dir=str(out_dir),
                       total_seconds=seconds_before + seconds)


ESTIMATE_STEPS = 3  # steps timed for the duration estimate printed before the rest of a run


def estimate_line(seconds_per_step: float, steps_left: int, budget_s: float | None, elapsed: float) -> str:
    """One line: how long the rest of the run will take, from the steps timed so far."""
    seconds = seconds_per_step * steps_left
    if budget_s is not None and budget_s - elapsed < seconds:
        seconds, steps_left = max(budget_s - elapsed, 0.0), int(max(budget_s - elapsed, 0.0) / seconds_per_step)
        what = f"~{steps_left} more steps until the {budget_s / 60:g}-minute budget"
    else:
        what = f"{steps_left} more steps"
    return f"estimate: {seconds_per_step:.2f} s/step over the first {ESTIMATE_STEPS} steps, so ~{_duration(seconds)} " \
           f"for {what}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else \
        f"{seconds / 3600:.1f} h"


@torch.no_grad()
def _validation_loss(model, x0, mask, scheduler, cfg, device) -> float:
    was_training = model.training
    model.eval()
    loss = validation_loss(model, x0.to(device), mask.to(device), scheduler, repeats=2,
                           timestep_sampling=cfg.timestep_sampling, loss_weighting=cfg.loss_weighting)
    model.train(was_training)
    return round(loss, 6)


def _ema_copy(model: VDT, ema: EMAModel) -> VDT:
    ema_model = copy.deepcopy(model).eval()
    ema.copy_to(ema_model.parameters())
    return ema_model


def read_log(out_dir: str | os.PathLike) -> list[dict]:
    """The run's log lines (step, loss, lr, seconds); a line torn by a crash mid-write is skipped."""
    path = Path(out_dir) / LOG_FILE
    return [entry for _, entry in log_entries(path)] if path.exists() else []
