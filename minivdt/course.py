"""Notebook helpers — what every lesson shares: lesson sizes picked from the hardware, seeding, checks that compare
a student's work, training with an announced duration, the bundled assets (the trained model the lessons load, the
benchmark results they plot, lesson 4's tiny pre-trained denoiser) and lesson 8's scene simulator."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import random
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

QUICK_ENV = "MINIVDT_QUICK"
SIZES = ("quick", "cpu", "gpu")


def lesson_size(env: dict | None = None, cuda: bool | None = None) -> str:
    """Which size a lesson runs at: "quick" when MINIVDT_QUICK=1 (CI: seconds, no claims), else "gpu" when CUDA
    is available (the full lesson) and "cpu" otherwise (a few minutes on 2 cores, with a real result)."""
    env = os.environ if env is None else env
    if env.get(QUICK_ENV, "0").strip().lower() not in ("", "0", "false", "no"):
        return "quick"
    cuda = torch.cuda.is_available() if cuda is None else cuda
    return "gpu" if cuda else "cpu"


def _assets_dir() -> Path:
    """The repository's assets/ folder, which an install ships as the package minivdt.assets (pyproject.toml)."""
    try:
        return Path(resources.files("minivdt.assets"))
    except ModuleNotFoundError:  # a source tree on PYTHONPATH, not installed
        return Path(__file__).resolve().parent.parent / "assets"


ASSETS = _assets_dir()
DEFAULT_CHECKPOINT = ASSETS / "vdt-cpu-tiny"
LESSON4_DENOISER = ASSETS / "lesson4-denoiser"


def default_checkpoint() -> Path:
    """The bundled all-task model."""
    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        raise FileNotFoundError(f"the bundled checkpoint is missing from {DEFAULT_CHECKPOINT}; "
                                "pass --checkpoint or reinstall minivdt")
    return DEFAULT_CHECKPOINT


def quick_mode() -> bool:
    """True when MINIVDT_QUICK=1: notebooks pick small sizes and few steps (CI, a first read-through)."""
    return lesson_size() == "quick"


def pick(quick, cpu, gpu):
    """The value for this machine's lesson size (see lesson_size)."""
    return {"quick": quick, "cpu": cpu, "gpu": gpu}[lesson_size()]


def seed_everything(seed: int = 0) -> None:
    """Seed Python, numpy and torch so that numbers shown in a notebook are reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cmp(name: str, mine, ref, atol: float = 1e-5, quiet: bool = False) -> bool:
    """Print whether `mine` equals `ref` exactly, closely (within atol) or not, with the largest difference."""
    mine, ref = torch.as_tensor(np.asarray(mine) if not torch.is_tensor(mine) else mine), \
        torch.as_tensor(np.asarray(ref) if not torch.is_tensor(ref) else ref)
    if mine.shape != ref.shape:
        if not quiet:
            print(f"{name:<28} shape {tuple(mine.shape)} but expected {tuple(ref.shape)}")
        return False
    diff = (mine.double() - ref.double()).abs().max().item() if mine.numel() else 0.0
    exact, close = diff == 0, diff <= atol
    if not quiet:
        print(f"{name:<28} exact: {str(exact):5}  close: {str(close):5}  max diff: {diff:.2e}")
    return bool(close)


def check_close(mine, ref, name: str = "your answer", atol: float = 1e-5, hint: str = "") -> None:
    """An exercise check: prints a success line, or raises AssertionError with a hint on a wrong answer."""
    if mine is None:
        raise AssertionError(f"{name} is None: fill in the exercise cell first. {hint}".strip())
    if not cmp(name, mine, ref, atol=atol):
        raise AssertionError(f"{name} does not match the reference. {hint}".strip())
    print(f"Correct: {name} matches.")


# --------------------------------------------------------------------------------------------------
#                          Training cells: announce the duration, then show a bar
# --------------------------------------------------------------------------------------------------


WARMUP_STEPS = 2  # steps that are run but not extrapolated: they pay for memory, kernel selection, optimizer state
PROBE_STEPS = 5  # steps timed after them; their median is the time of a step


def extrapolate_seconds(step_seconds, total_steps: int, warmup_steps: int = WARMUP_STEPS) -> tuple[float, float]:
    """(duration of all total_steps, seconds a step) from the durations of the first steps: those steps as they
    were, then the median of the ones after the warm-up for each step left. The first steps of a run pay one-off
    costs (lesson 5 on 2 busy cores with two threads: 4.3 s for each of its first two steps, under 1 s from the
    fourth on, so the mean of steps 1-3 said 456 s for a 70 s cell), and the median ignores a step that another
    process slowed down."""
    step_seconds = np.asarray(step_seconds, np.float64)
    timed = step_seconds[min(warmup_steps, len(step_seconds) - 1):]  # at least one step, if any ran
    per_step = float(np.median(timed)) if len(timed) else 0.0
    return float(step_seconds.sum() + per_step * (total_steps - len(step_seconds))), per_step


def _estimate_line(seconds: float, total_steps: int, per_step: float, timed: int, warmup: int) -> str:
    return (f"estimated duration: {seconds:.0f} s for {total_steps} steps ({per_step * 1e3:.0f} ms a step, the median "
            f"of {timed} steps after {warmup} warm-up steps)")


def estimate_seconds(step, total_steps: int, probe_steps: int = PROBE_STEPS, warmup_steps: int = WARMUP_STEPS) -> float:
    """Run `step(i)` for the first warmup_steps + probe_steps steps (fewer if total_steps is smaller), timing each,
    then print and return the duration of all total_steps (extrapolate_seconds). The steps run are training steps
    0, 1, ...: the caller goes on from step min(total_steps, warmup_steps + probe_steps)."""
    run = min(int(total_steps), warmup_steps + max(1, probe_steps))
    step_seconds = []
    for i in range(run):
        before = time.perf_counter()
        step(i)
        step_seconds.append(time.perf_counter() - before)
    estimate, per_step = extrapolate_seconds(step_seconds, total_steps, warmup_steps)
    warmup = min(warmup_steps, max(0, run - 1))
    print(_estimate_line(estimate, total_steps, per_step, run - warmup, warmup))
    return estimate


def train_with_estimate(cfg, probe_steps: int = PROBE_STEPS, warmup_steps: int = WARMUP_STEPS):
    """minivdt.training.train(cfg) with a progress bar, after printing how long it should take: a throw-away run of
    warmup_steps + probe_steps steps with the same config is timed step by step (its log), and the estimate is its
    set-up and end (model, optimizer, validation clips, the final checkpoint) plus extrapolate_seconds of its steps.
    The training clips are made first, once: the probe and the run share them (minivdt.training keeps the last set
    in memory), so the run will not spend that time again."""
    from .training import load_training_videos, read_log, train  # only the lessons that train a VDT need these

    load_training_videos(cfg)
    run = min(cfg.max_steps, warmup_steps + max(1, probe_steps))
    with tempfile.TemporaryDirectory(prefix="minivdt-probe-") as out_dir:
        # no validation loss in the probe: at a lesson's size it is a small share of a run, and it costs as much
        # as the probe's steps
        probe = dataclasses.replace(cfg, max_steps=run, log_every=1, checkpoint_every=10 ** 9, out_dir=out_dir)
        start = time.perf_counter()
        result = train(probe, progress=False)
        set_up = time.perf_counter() - start - result.seconds
        seconds = [line["seconds"] for line in read_log(out_dir) if "seconds" in line]  # training time after each step
    estimate, per_step = extrapolate_seconds(np.diff([0.0] + seconds), cfg.max_steps, warmup_steps)
    warmup = min(warmup_steps, max(0, len(seconds) - 1))
    print(_estimate_line(set_up + estimate, cfg.max_steps, per_step, len(seconds) - warmup, warmup))
    return train(cfg, progress=True)


# --------------------------------------------------------------------------------------------------
#                          Interactive cells: one picture, redrawn in place
# --------------------------------------------------------------------------------------------------


class LiveView:
    """One picture that widgets redraw in place, so a lesson shows it once. `view = LiveView(draw)`, then
    `view.show(...)` in one cell draws it (a plain call: the lesson also runs headless, e.g. under nbval) and
    `interact(view.update, ...)` in the next cell redraws that picture when a control moves, instead of drawing a
    second copy under the controls. `view.update` has `draw`'s signature; a call with the arguments already shown
    (the controls' first call, from their initial values) draws nothing. `draw(...)` displays its picture."""

    def __init__(self, draw):
        self.draw, self.signature = draw, inspect.signature(draw)
        self.output, self.shown = None, None  # the ipywidgets.Output it draws in; the arguments on show

        def update(*args, **kwargs):
            arguments = self.signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            if self.output is None:
                raise RuntimeError("call show() first: update() redraws the picture that show() displayed")
            if arguments.arguments == self.shown:
                return
            with self.output:
                if self.shown is not None:
                    self.output.clear_output(wait=True)  # the new picture replaces the old one without a flicker
                self.draw(*arguments.args, **arguments.kwargs)
            self.shown = arguments.arguments

        self.update = functools.wraps(draw)(update)

    def show(self, *args, **kwargs):
        """Display a new output holding draw(*args, **kwargs)."""
        import ipywidgets
        from IPython.display import display

        self.output, self.shown = ipywidgets.Output(), None
        display(self.output)
        self.update(*args, **kwargs)


# --------------------------------------------------------------------------------------------------
#                          Lesson 4: a tiny conv denoiser of single 16 x 16 frames
# --------------------------------------------------------------------------------------------------


class TinyDenoiser(nn.Module):
    """x_t (B, C, H, W), timesteps (B,) -> predicted noise ε̂ (B, C, H, W): a residual stack of dilated 3x3
    convolutions with the timestep's sinusoidal features (VDT's t_embedder) added before each one."""

    def __init__(self, width: int = 64, channels: int = 3, freq_dim: int = 64):
        super().__init__()
        self.width, self.channels, self.freq_dim = width, channels, freq_dim
        self.t_embedder = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in (1, 2, 4, 2, 1)])
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x, timesteps):
        from .model import TimestepEmbedder

        c = self.t_embedder(TimestepEmbedder.timestep_embedding(timesteps, self.freq_dim))  # (B, width)
        h = self.inp(x)
        for conv in self.convs:
            h = h + conv(F.silu(h + c[:, :, None, None]))  # residual, timestep added everywhere
        return self.out(F.silu(h))


def denoiser_loss(denoiser, frames, scheduler, batch_size: int, generator: torch.Generator):
    """One ε-prediction loss on a random batch of `frames` (B, C, H, W): t ~ U{0..T-1}, MSE(ε̂, ε)."""
    device = next(denoiser.parameters()).device
    x0 = frames[torch.randint(0, len(frames), (batch_size,), generator=generator)]
    noise = torch.randn(x0.shape, generator=generator)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=generator)
    x_t = scheduler.add_noise(x0, noise, timesteps)  # x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε
    return F.mse_loss(denoiser(x_t.to(device), timesteps.to(device)), noise.to(device))


def train_denoiser(denoiser, frames, scheduler, steps: int, batch_size: int, lr: float = 2e-3, seed: int = 0,
                   progress: bool = True) -> list[float]:
    """AdamW on denoiser_loss for `steps` steps (cosine-decayed learning rate); prints an estimated duration
    first and shows a progress bar. Returns the loss of every step."""
    from .progress import progress_bar

    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=lr)
    lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []

    def step(_):
        loss = denoiser_loss(denoiser, frames, scheduler, batch_size, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lr_decay.step()
        losses.append(loss.item())

    if steps > 1:
        estimate_seconds(step, steps)  # runs and times the first steps: they are real training steps
    for i in progress_bar(range(len(losses), steps), initial=len(losses), total=steps, desc="train",
                          disable=not progress):
        step(i)
    return losses


def save_denoiser(denoiser: TinyDenoiser, folder, **info) -> Path:
    """Weights as safetensors + a config.json (the constructor's arguments and `info`, e.g. how it was trained)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in denoiser.state_dict().items()}, folder / "model.safetensors")
    config = dict(width=denoiser.width, channels=denoiser.channels, freq_dim=denoiser.freq_dim, **info)
    (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return folder


def load_denoiser(folder=LESSON4_DENOISER, device="cpu") -> tuple[TinyDenoiser, dict]:
    """The denoiser saved by save_denoiser (default: lesson 4's pre-trained one) and its config."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no denoiser in {folder}: run `python assets/train_lesson4_denoiser.py`")
    config = json.loads((folder / "config.json").read_text())
    denoiser = TinyDenoiser(config["width"], config["channels"], config["freq_dim"])
    denoiser.load_state_dict(load_file(folder / "model.safetensors"))
    return denoiser.to(device).eval(), config


# --------------------------------------------------------------------------------------------------
#                          Lesson 8: a scene from chosen start positions and velocities
# --------------------------------------------------------------------------------------------------


def simulate_scene(positions, velocities, present=(True, True, False), radius=3.0, block=None, config=None):
    """Simulate and render one clip from a chosen start: positions and velocities (K, 2) in pixels and pixels per
    frame (K = 3 ball slots: red agent, green target, blue), radius px (one or per ball), an optional block [x0, y0, x1, y1] px standing on the
    floor. Returns (frames uint8 (F, H, W, 3), positions px (F, K, 2))."""
    from .render import render
    from .physics import MAX_BALLS, simulate
    from .world import WorldConfig

    cfg = config or WorldConfig()
    S = cfg.size
    positions, velocities = np.asarray(positions, np.float64), np.asarray(velocities, np.float64)
    if positions.shape != (MAX_BALLS, 2) or velocities.shape != (MAX_BALLS, 2):
        raise ValueError(f"positions and velocities must be ({MAX_BALLS}, 2) px, got {positions.shape} and "
                         f"{velocities.shape}")
    r = np.broadcast_to(np.asarray(radius, np.float64), (MAX_BALLS,)) / S  # (K,)
    # start inside the walls and above the floor, as the scenarios do
    pos = np.stack([np.clip(positions[:, 0] / S, r, 1 - r), np.clip(positions[:, 1] / S, r, cfg.floor_y - r)], -1)
    rect = np.zeros((1, 1, 4)) if block is None else np.asarray(block, np.float64).reshape(1, 1, 4) / S
    state = dict(pos=pos[None], vel=velocities[None] / S, radius=r[None],
                 present=np.asarray(present, bool)[None], rect=rect, rect_present=np.array([[block is not None]]),
                 target=np.array([1]), target_is_obstacle=np.array([block is not None]))
    sim_positions, _, _ = simulate(state, cfg)
    positions_px = (sim_positions[0] * S).astype(np.float32)
    frames = render(positions_px, (r * S).astype(np.float32), state["present"][0],
                    (rect[0] * S).astype(np.float32), cfg, obstacle_present=state["rect_present"][0])
    return frames, positions_px
