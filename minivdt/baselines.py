"""Lesson 8 — notebooks/08_physics_prediction.ipynb. The predictors a VDT is compared with, each a predict_fn for
`metrics.evaluate(predict_fn, clips, num_given)`: copy the last frame, move the tracked balls on at constant velocity,
the true future (an oracle that measures the tracker itself), and a SimVP-style CNN trained with plain MSE; plus
`vdt_predictor`, which makes a trained VDT one of them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch import nn

from .data import split_seeds, to_tensor, to_uint8
from .diffusion import DEFAULT_SAMPLER, DEFAULT_STEPS, generate
from .metrics import evaluate, track_balls
from .render import render
from .world import SCENARIOS, ClipBatch, WorldConfig, make_clips

# ----------------------------------------------------------------------------------------------------------
# Baselines that need no training
# ----------------------------------------------------------------------------------------------------------

def copy_last_frame(context, num_future: int) -> np.ndarray:
    """Predict that nothing moves: repeat the last given frame. context (..., F_given, H, W, 3)."""
    context = np.asarray(context)
    return np.repeat(context[..., -1:, :, :, :], num_future, axis=-4)


def constant_velocity(context, num_future: int, clips: ClipBatch, config: WorldConfig | None = None) -> np.ndarray:
    """Track balls in the last two given frames, move them on at constant velocity (clamped to the box), re-render.

    Radii, present balls and the static block come from the clip metadata (clips.radii, .present,
    .obstacles) rather than from the tracked blobs; a ball lost in the last given frame is not drawn.
    context (B, F_given, H, W, 3) -> (B, num_future, H, W, 3).
    """
    config = config or clips.config
    tracked, found = track_balls(np.asarray(context)[:, -2:])  # (B, 2, K, 2), (B, 2, K)
    velocity = np.where(found[:, :1, :, None] & found[:, 1:, :, None], tracked[:, 1:] - tracked[:, :1], 0.0)
    steps = np.arange(1, num_future + 1, dtype=np.float32)[None, :, None, None]
    future = tracked[:, 1:] + velocity * steps  # (B, F_future, K, 2)
    radii = clips.radii[:, None, :]  # keep the extrapolated balls inside the walls and above the floor
    future[..., 0] = np.clip(future[..., 0], radii, config.size - radii)
    future[..., 1] = np.clip(future[..., 1], radii, config.floor_y * config.size - radii)
    return render(future, clips.radii, clips.present & found[:, -1], clips.obstacles, config)


def oracle(context, num_future: int, clips: ClipBatch) -> np.ndarray:
    """Cheating reference: return the true future frames (measures the tracker and read-out themselves)."""
    F_given = np.asarray(context).shape[1]
    return clips.frames[:, F_given:F_given + num_future]


def blank(context, num_future: int, clips: ClipBatch) -> np.ndarray:
    """Reference floor: the scene without any ball (background, floor and blocks). Every ball is lost."""
    B = len(clips)
    positions = np.zeros((B, num_future) + clips.positions.shape[2:], np.float32)
    return render(positions, clips.radii, np.zeros_like(clips.present), clips.obstacles, clips.config)


def uniform_noise(context, num_future: int, seed: int = 0) -> np.ndarray:
    """Reference floor: i.i.d. uniform uint8 pixels, what an untrained generator might output. A tracker that
    finds balls in it is measuring noise, so it must score at the cap with every ball lost."""
    context = np.asarray(context)
    shape = context.shape[:-4] + (num_future,) + context.shape[-3:]
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


BASELINES = {
    "oracle (true frames)": lambda context, clips, num_future: oracle(context, num_future, clips),
    "copy_last_frame": lambda context, clips, num_future: copy_last_frame(context, num_future),
    "constant_velocity": lambda context, clips, num_future: constant_velocity(context, num_future, clips),
}
# Rows every quality table carries so that a reader can see where "no information" scores.
REFERENCES = {
    "uniform noise": lambda context, clips, num_future: uniform_noise(context, num_future),
    "blank (no balls)": lambda context, clips, num_future: blank(context, num_future, clips),
}


def baseline_table(num_per_scenario: int = 64, config: WorldConfig | None = None, num_given: int = 8,
                   scenarios=SCENARIOS, baselines=None) -> dict:
    """Evaluate the training-free baselines on the test split of each scenario -> {scenario: {name: results}}."""
    baselines = {**BASELINES, **REFERENCES} if baselines is None else baselines
    seeds = split_seeds("test", num_per_scenario)
    table = {}
    for scenario in scenarios:
        clips = make_clips(scenario, seeds, config)
        table[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in baselines.items()}
    return table


# ----------------------------------------------------------------------------------------------------------
# SimVP-style deterministic CNN predictor
# ----------------------------------------------------------------------------------------------------------

class ConvBlock(nn.Sequential):
    """Conv (3x3, or a 2x up-sampling 4x4 transposed conv) -> GroupNorm -> LeakyReLU, as in SimVP."""

    def __init__(self, c_in, c_out, stride=1, upsample=False):
        conv = (nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1) if upsample
                else nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1))
        super().__init__(conv, nn.GroupNorm(2, c_out), nn.LeakyReLU(0.2))


class TranslatorBlock(nn.Module):
    """Residual conv block of the translator (SimVP's Inception mid-net simplified to one 3x3 branch)."""

    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(8, width), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, width, 1))

    def forward(self, z):
        return z + self.body(z)


class SimVP(nn.Module):
    """A small SimVP (Gao et al., CVPR 2022): a strided-conv encoder applied to each given frame, a conv translator
    that mixes the given frames stacked along channels, and a decoder to every future frame. Deterministic: no
    dropout, no noise; the decoder also sees full-resolution features of the last given frame (SimVP's skip)."""

    def __init__(self, num_given=8, num_future=8, in_channels=3, hidden=32, translator_width=256,
                 translator_depth=4):
        super().__init__()
        for name, value in (("num_given", num_given), ("num_future", num_future), ("hidden", hidden),
                            ("translator_width", translator_width), ("translator_depth", translator_depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if hidden % 2 or translator_width % 8:
            raise ValueError(f"hidden must be even and translator_width divisible by 8 (GroupNorm groups), "
                             f"got {hidden} and {translator_width}")
        self.num_given, self.num_future = num_given, num_future
        self.config = dict(num_given=num_given, num_future=num_future, in_channels=in_channels, hidden=hidden,
                           translator_width=translator_width, translator_depth=translator_depth)  # for save_cnn
        self.encoder_stem = ConvBlock(in_channels, hidden)  # full resolution, also the decoder's skip
        self.encoder = nn.Sequential(ConvBlock(hidden, hidden, stride=2), ConvBlock(hidden, hidden, stride=2))
        self.translator = nn.Sequential(
            nn.Conv2d(num_given * hidden, translator_width, 1),
            *[TranslatorBlock(translator_width) for _ in range(translator_depth)],
            nn.Conv2d(translator_width, num_future * hidden, 1))
        self.decoder = nn.Sequential(ConvBlock(hidden, hidden, upsample=True), ConvBlock(hidden, hidden, upsample=True))
        self.readout = nn.Conv2d(2 * hidden, in_channels, 1)

    def forward(self, context):
        """context (B, F_given, C, H, W) in [-1, 1] (H, W divisible by 4) -> future (B, F_future, C, H, W)."""
        B, T, C, H, W = context.shape
        if T != self.num_given or H % 4 or W % 4:
            raise ValueError(f"context must be (B, {self.num_given}, C, H, W) with H, W divisible by 4, "
                             f"got {tuple(context.shape)}")
        skip = self.encoder_stem(rearrange(context, "b t c h w -> (b t) c h w"))  # (B*T, hid, H, W)
        z = self.encoder(skip)  # (B*T, hid, H/4, W/4)
        z = self.translator(rearrange(z, "(b t) c h w -> b (t c) h w", b=B))  # (B, F'*hid, H/4, W/4)
        y = self.decoder(rearrange(z, "b (t c) h w -> (b t) c h w", t=self.num_future))  # (B*F', hid, H, W)
        last = rearrange(skip, "(b t) c h w -> b t c h w", b=B)[:, -1:].expand(-1, self.num_future, -1, -1, -1)
        y = self.readout(torch.cat([y, rearrange(last, "b t c h w -> (b t) c h w")], dim=1))  # (B*F', C, H, W)
        return rearrange(y, "(b t) c h w -> b t c h w", b=B)


def make_cnn(num_given=8, num_future=8, seed=0, **kwargs) -> SimVP:
    """A SimVP whose initial weights depend only on `seed` (the global torch RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SimVP(num_given, num_future, **kwargs)


CNN_CONFIG, CNN_WEIGHTS = "simvp.json", "model.safetensors"


def save_cnn(model: SimVP, folder, info: dict) -> Path:
    """A trained SimVP as a folder: safetensors weights, its constructor arguments and how it was trained (JSON),
    and the SHA256SUMS that load_cnn checks. Nothing in it is ever unpickled."""
    from safetensors.torch import save_file

    from .checkpoints import write_sums

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / CNN_WEIGHTS)
    (folder / CNN_CONFIG).write_text(json.dumps({"model": model.config, "info": info}, indent=1) + "\n")
    write_sums(folder, [CNN_CONFIG, CNN_WEIGHTS])
    return folder


def load_cnn(folder) -> tuple[SimVP, dict]:
    """(model, info) from a save_cnn folder, checked like every loaded folder: checksums, strict keys and shapes,
    float and finite weights."""
    from safetensors.torch import load_file

    from .checkpoints import CheckpointError, load_strict, read_json_object, verify_sums

    folder = Path(folder)
    if not (folder / CNN_CONFIG).is_file():
        raise FileNotFoundError(f"{folder} is not a SimVP folder (no {CNN_CONFIG}; save_cnn writes one)")
    verify_sums(folder, (CNN_CONFIG, CNN_WEIGHTS))
    saved = read_json_object(folder / CNN_CONFIG)
    try:
        model = SimVP(**saved["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{folder / CNN_CONFIG} does not describe a SimVP ({error})") from None
    load_strict(model, load_file(folder / CNN_WEIGHTS), folder / CNN_WEIGHTS)
    return model.eval(), dict(saved.get("info") or {})


def cnn_predictor(model: SimVP, batch_size: int = 64):
    """A predict_fn for metrics.evaluate: one deterministic forward pass per batch of contexts."""

    @torch.no_grad()
    def predict(context, clips, num_future):
        model.eval()
        device = next(model.parameters()).device
        out = [to_uint8(model(to_tensor(context[i:i + batch_size]).to(device)).clamp(-1, 1).cpu())
               for i in range(0, len(context), batch_size)]
        return np.concatenate(out)[:, :num_future]

    return predict


def train_cnn(videos, num_given=8, budget_s=None, max_steps=None, batch_size=16, learning_rate=1e-3, seed=0,
              callback=None, callback_every_s=None, device="cpu", model_kwargs=None, resume=None,
              save_state=None, save_every_s=None):
    """Train a SimVP on uint8 clips (N, F, H, W, 3) with MSE on the future frames, for `budget_s` seconds of
    training time and/or `max_steps` steps -> (model, info). Batches are a pure function of (seed, step), so a
    run with max_steps (and no budget) is bit-for-bit repeatable. callback(step, model, train_seconds) runs at
    step 0, every `callback_every_s` training seconds and at the end; its own time is not counted.

    A long run survives interruptions: save_state(state) is called every `save_every_s` training seconds with
    {"model", "optimizer", "step", "train_seconds"} (tensors and plain numbers only), and passing such a state
    back as `resume` continues the run where it stopped."""
    if budget_s is None and max_steps is None:
        raise ValueError("budget_s or max_steps must be given, got neither")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
    videos = torch.as_tensor(np.asarray(videos))
    if videos.dtype != torch.uint8 or videos.ndim != 5 or not 1 <= num_given < videos.shape[1]:
        raise ValueError(f"videos must be uint8 (N, F, H, W, 3) with F > num_given={num_given}, "
                         f"got {videos.dtype} {tuple(videos.shape)}")
    num_future = videos.shape[1] - num_given
    model = make_cnn(num_given, num_future, seed=seed, **(model_kwargs or {})).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    train_seconds, step = 0.0, 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        train_seconds, step = float(resume["train_seconds"]), int(resume["step"])
    reported = step if resume is not None else -1  # a resumed run reported its last point before it stopped
    next_report = _next_multiple(train_seconds, callback_every_s)
    next_save = _next_multiple(train_seconds, save_every_s)
    loss = None

    def report():
        nonlocal reported
        if callback is not None and reported != step:
            model.eval()
            callback(step, model, train_seconds)
            reported = step

    report()
    while (max_steps is None or step < max_steps) and (budget_s is None or train_seconds < budget_s):
        start = time.perf_counter()
        model.train()
        rng = np.random.default_rng([seed, step])
        clips = to_tensor(videos[rng.choice(len(videos), size=batch_size, replace=len(videos) < batch_size)])
        clips = clips.to(device)  # (b, F, C, H, W)
        loss = nn.functional.mse_loss(model(clips[:, :num_given]), clips[:, num_given:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        train_seconds += time.perf_counter() - start
        if train_seconds >= next_report:
            report()
            next_report = _next_multiple(train_seconds, callback_every_s)
        if save_state is not None and train_seconds >= next_save:
            save_state(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                            train_seconds=train_seconds))
            next_save = _next_multiple(train_seconds, save_every_s)
    report()
    info = dict(steps=step, train_seconds=train_seconds, final_loss=float(loss.item()) if loss is not None else None,
                parameters=sum(p.numel() for p in model.parameters()), batch_size=batch_size,
                learning_rate=learning_rate, seed=seed)
    return model.eval(), info


def _next_multiple(seconds, every):
    """The first multiple of `every` after `seconds` (inf when every is None): when the next report is due."""
    return math.inf if not every else (math.floor(seconds / every) + 1) * every


# ----------------------------------------------------------------------------------------------------------
# A trained VDT as a predictor
# ----------------------------------------------------------------------------------------------------------

def vdt_predictor(model, steps: int = DEFAULT_STEPS, seed: int = 0, sampler: str = DEFAULT_SAMPLER):
    """A predict_fn for metrics.evaluate: the model fills the future frames of each clip."""

    def predict(context, clips, num_future):
        num_given = context.shape[1]
        blank = np.zeros((len(context), num_future) + context.shape[2:], np.uint8)  # never seen by the model
        frames = np.concatenate([context, blank], axis=1)
        return generate(model, frames, "predict", num_given=num_given, steps=steps, seed=seed,
                        sampler=sampler)[:, num_given:]

    return predict


def vdt_sampler(model, steps: int = DEFAULT_STEPS, seed: int = 0, sampler: str = DEFAULT_SAMPLER):
    """A sample_fn for metrics.evaluate_uncertain: num_samples futures of each clip, each from its own noise."""

    def sample_futures(context, clips, num_future, num_samples):
        predict = vdt_predictor(model, steps, seed, sampler)
        repeated = np.repeat(context, num_samples, axis=0)  # (B * S, G, H, W, 3): sample s of clip b is row b * S + s
        out = predict(repeated, clips, num_future)
        return out.reshape((len(context), num_samples) + out.shape[1:])

    return sample_futures


def deterministic_sampler(predict_fn):
    """A predict_fn (one future per clip) as a sample_fn with a single sample (S = 1)."""
    return lambda context, clips, num_future, num_samples: predict_fn(context, clips, num_future)[:, None]
