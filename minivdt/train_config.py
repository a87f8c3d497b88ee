"""Lesson 5 — notebooks/05_vdt_block.ipynb. What defines a training run: `TrainConfig` and its named presets.

A config is saved as JSON beside every checkpoint; `--resume` refuses a config that differs from the saved one
except in RESUMABLE_CHANGES. The training loop itself is in minivdt.training.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field

from .checks import check_float, check_int, check_seed
from .diffusion import DEFAULT_PREDICTION_TYPE, LOSS_WEIGHTINGS, PREDICTION_TYPES, TIMESTEP_SAMPLINGS
from .masks import DEFAULT_TASK_WEIGHTS, check_task_weights
from .model import PRESETS
from .tokenizer import latent_geometry
from .world import ALL_SCENARIOS, SCENARIOS, WorldConfig, make_world

# Fields a resumed run may change: how long it runs, how often it saves and logs, the learning rate (the advice
# after a NaN stop is to resume with a lower one) and the task mix (fine-tune on a task the model does badly). Each
# change of the task mix is recorded with its first step, so the data of every step can still be reproduced.
RESUMABLE_CHANGES = ("max_steps", "time_budget_s", "out_dir", "checkpoint_every", "log_every", "learning_rate",
                     "task_weights")

@dataclass
class TrainConfig:
    """Everything that defines a training run; saved beside each checkpoint."""

    model_preset: str = "cpu-tiny"
    model_overrides: dict = field(default_factory=dict)  # e.g. {"cond_mode": "adaln"}
    scenarios: tuple[str, ...] = SCENARIOS
    image_size: int = 32
    num_frames: int = 16
    num_given: int = 8  # condition frames of the "predict" task (the Physion setting: 8 given, 8 predicted)
    num_train_clips: int = 4000  # fixed training set, split evenly over scenarios (uint8, 48 KiB a clip at 32x32)
    batch_size: int = 16  # global batch, split evenly over processes
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    max_steps: int = 2000
    time_budget_s: float | None = None  # stop early after this much wall-clock training time
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    task_weights: dict = field(default_factory=lambda: dict(DEFAULT_TASK_WEIGHTS))
    prediction_type: str = DEFAULT_PREDICTION_TYPE  # x_0: see BENCHMARKS.md's recipe study for ε and v
    timestep_sampling: str = "high_noise"  # diffusion.TIMESTEP_SAMPLINGS
    loss_weighting: str = "none"  # diffusion.LOSS_WEIGHTINGS
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    # "auto": bf16 on bf16-capable GPUs and CPUs, fp16 on older GPUs, off on MPS and other CPUs. The cpu-tiny
    # preset turns it off: at width 128 bf16 autocast is slower than fp32 even where the CPU has bf16 units.
    mixed_precision: str = "auto"
    out_dir: str = "runs/cpu-tiny"
    tokenizer: str | None = None  # folder of a saved minivdt.tokenizer: diffuse its latents instead of pixels
    world: dict = field(default_factory=dict)  # WorldConfig fields the training clips change, e.g. {"gravity": 0.015}
    init_from: str | None = None  # model folder whose weights start the run (fine-tuning), e.g. assets/vdt-cpu-tiny
    data: str | None = None  # your own clips instead of the simulator: an .npz or a folder of videos (user_clips.py)

    def __post_init__(self):
        for name, valid in (("model_preset", tuple(PRESETS)), ("prediction_type", PREDICTION_TYPES),
                            ("timestep_sampling", TIMESTEP_SAMPLINGS), ("loss_weighting", LOSS_WEIGHTINGS),
                            ("mixed_precision", ("auto", "no", "bf16", "fp16"))):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}")
        if not isinstance(self.model_overrides, dict):
            raise TypeError(f"model_overrides must be a dict, got {type(self.model_overrides).__name__}")
        self.scenarios = tuple(self.scenarios) if isinstance(self.scenarios, (list, tuple)) else self.scenarios
        if not isinstance(self.scenarios, tuple) or not self.scenarios or any(s not in ALL_SCENARIOS for s in self.scenarios):
            raise ValueError(f"scenarios must be a non-empty tuple of {ALL_SCENARIOS}, got {self.scenarios!r}")
        check_task_weights("task_weights", self.task_weights)
        for name, low in (("image_size", 16), ("num_frames", 2), ("num_train_clips", 1), ("batch_size", 1),
                          ("warmup_steps", 0), ("max_steps", 0), ("checkpoint_every", 1), ("log_every", 1)):
            check_int(name, getattr(self, name), low)
        check_int("num_given", self.num_given, 1, self.num_frames - 1)
        check_seed("seed", self.seed)
        check_float("learning_rate", self.learning_rate, 0, low_open=True)
        check_float("weight_decay", self.weight_decay, 0)
        check_float("grad_clip", self.grad_clip, 0)
        check_float("ema_decay", self.ema_decay, 0, 1)
        if self.time_budget_s is not None:
            check_float("time_budget_s", self.time_budget_s, 0, low_open=True)
        if self.tokenizer is not None and not isinstance(self.tokenizer, (str, os.PathLike)):
            raise TypeError(f"tokenizer must be a folder path or None, got {self.tokenizer!r}")
        if self.init_from is not None and (not isinstance(self.init_from, (str, os.PathLike)) or not str(self.init_from)):
            raise TypeError(f"init_from must be a model folder path or None, got {self.init_from!r}")
        if self.data is not None and (not isinstance(self.data, (str, os.PathLike)) or not str(self.data)):
            raise TypeError(f"data must be a path (.npz or a folder of videos) or None, got {self.data!r}")
        self.world_config()  # every key a WorldConfig field, every value in its range

    def world_config(self) -> WorldConfig:
        """The world of the training clips: frame size and length from this config, the rest from `world`."""
        return make_world(self.world, size=self.image_size, num_frames=self.num_frames)

    def model_kwargs(self) -> dict:
        """Keyword arguments of the VDT this run trains."""
        kwargs = dataclasses.asdict(PRESETS[self.model_preset])
        kwargs.update(input_size=self.image_size, num_frames=self.num_frames, prediction_type=self.prediction_type)
        if self.tokenizer is not None:  # the model sees (c, H/s, W/s) latents
            channels, factor = latent_geometry(self.tokenizer)
            kwargs.update(input_size=self.image_size // factor, in_channels=channels)
        kwargs.update(self.model_overrides)
        return kwargs


TRAIN_PRESETS = {
    # ~1 M parameters; a few thousand steps on 2 CPU cores is what the bundled checkpoint had.
    # 20k clips: a long CPU run sees each clip ~40 times instead of ~200 times with 4k.
    "cpu-tiny": TrainConfig(mixed_precision="no", learning_rate=1e-3, num_train_clips=20000),
    # The same recipe, wider and deeper; 20000 steps took an estimated 19 min on an H200 (assets/laptop_gpu_check.py).
    "laptop-gpu": TrainConfig(
        model_preset="laptop-gpu", num_train_clips=16384, batch_size=64, max_steps=20000,
        warmup_steps=500, checkpoint_every=1000, out_dir="runs/laptop-gpu",
    ),
    # Seconds, for tests and the notebooks' quick mode.
    "smoke": TrainConfig(
        model_preset="cpu-tiny", model_overrides={"hidden_size": 32, "depth": 1, "num_heads": 2},
        num_train_clips=32, batch_size=4, max_steps=4, warmup_steps=1, checkpoint_every=2, log_every=1,
        out_dir="runs/smoke",
    ),
}


def make_train_config(preset: str = "cpu-tiny", **overrides) -> TrainConfig:
    """A copy of a named preset with some fields changed."""
    if preset not in TRAIN_PRESETS:
        raise ValueError(f"preset must be one of {sorted(TRAIN_PRESETS)}, got {preset!r}")
    return dataclasses.replace(copy.deepcopy(TRAIN_PRESETS[preset]), **overrides)
