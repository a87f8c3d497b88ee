"""The main job: a trained VDT predicting physics, scored against baselines; and `minivdt sample`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .data import split_seeds, to_tensor, to_uint8
from .diffusion import make_scheduler, sample
from .masks import TASKS, make_mask
from .metrics import BASELINES, evaluate, format_table, mse, psnr, ssim, to_jsonable
from .training import load_model, pick_device
from .viz import frame_grid, save_image, save_video, side_by_side, upscale
from .world import SCENARIOS, WorldConfig, make_clips

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_CHECKPOINT = ASSETS / "vdt-cpu-tiny"
# Ancestral DDPM sampling: on the bundled model's validation clips, 25 DDPM steps gave a mean position error of
# 5.66 px against 6.58 px for 25 deterministic DDIM steps (an undertrained model's errors compound along the ODE).
DEFAULT_SAMPLER = "ddpm"


def default_checkpoint() -> Path:
    """The bundled all-task model."""
    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        raise FileNotFoundError(f"the bundled checkpoint is missing from {DEFAULT_CHECKPOINT}; "
                                "pass --checkpoint or reinstall from a full clone")
    return DEFAULT_CHECKPOINT


@torch.no_grad()
def generate(model, frames: np.ndarray, task: str = "predict", num_given: int = 8, steps: int = 25,
             seed: int = 0, sampler: str = DEFAULT_SAMPLER, batch_size: int = 32) -> np.ndarray:
    """Fill the `task` mask of uint8 clips (B, F, H, W, 3) with the model; returns uint8 (B, F, H, W, 3).

    Positions the mask gives are copied from `frames`; only generated positions come from the model.
    """
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (B, F, H, W, 3), got shape {frames.shape}")
    B, F, H, W, _ = frames.shape
    device = next(model.parameters()).device
    noise_scheduler = make_scheduler(sampler, prediction_type=model.config.prediction_type)
    generator = torch.Generator().manual_seed(seed)
    mask = make_mask(task, B, F, H, W, num_given=num_given, patch_size=model.config.patch_size, generator=generator)
    out = []
    for start in range(0, B, batch_size):
        video = to_tensor(frames[start:start + batch_size]).to(device)  # (b, F, C, H, W)
        part_mask = mask[start:start + batch_size].to(device)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=device.type == "cpu")
        with autocast:
            result = sample(model, video, part_mask, noise_scheduler, num_inference_steps=steps, generator=generator)
        out.append(to_uint8(result.float().cpu()))
    return np.concatenate(out)


def vdt_predictor(model, steps: int = 25, seed: int = 0, sampler: str = DEFAULT_SAMPLER):
    """A predict_fn for metrics.evaluate: the model fills the future frames of each clip."""

    def predict(context, clips, num_future):
        num_given = context.shape[1]
        blank = np.zeros((len(context), num_future) + context.shape[2:], np.uint8)  # never seen by the model
        frames = np.concatenate([context, blank], axis=1)
        return generate(model, frames, "predict", num_given=num_given, steps=steps, seed=seed,
                        sampler=sampler)[:, num_given:]

    return predict


def run_demo(checkpoint=None, num_clips: int = 8, steps: int = 25, out_dir="outputs/demo",
             scenarios=SCENARIOS, seed: int = 0, sampler: str = DEFAULT_SAMPLER) -> dict:
    """Predict frames 9-16 from 1-8 on held-out clips of every scenario; print and save the metrics."""
    torch.manual_seed(seed)
    model = load_model(checkpoint or default_checkpoint(), device=pick_device())
    config = WorldConfig(size=model.config.input_size if isinstance(model.config.input_size, int)
                         else model.config.input_size[0], num_frames=model.config.num_frames)
    num_given = model.config.num_frames // 2
    methods = {"VDT (bundled)": vdt_predictor(model, steps=steps, seed=seed, sampler=sampler),
               **{name: fn for name, fn in BASELINES.items() if name != "oracle (true frames)"}}
    out_dir = Path(out_dir)
    results, rows = {}, []
    for scenario in scenarios:
        clips = make_clips(scenario, split_seeds("test", num_clips), config)
        results[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in methods.items()}
        shown = clips.select(slice(0, 2))
        predicted = methods["VDT (bundled)"](shown.frames[:, :num_given], shown, config.num_frames - num_given)
        for truth, future in zip(shown.frames, predicted):
            rows.append(side_by_side(truth, np.concatenate([truth[:num_given], future])))
    print(f"VDT 8 -> 8 frame prediction on {num_clips} held-out clips per scenario ({steps} {sampler} steps)")
    print(format_table(results))
    video = save_video(out_dir / "demo.mp4", upscale(_stack_rows(rows), 4), fps=4)
    grid = save_image(out_dir / "demo.png", frame_grid(np.stack(rows)[:, num_given:], scale=2))
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(to_jsonable(results), f, indent=1)
    print(f"wrote {video}, {grid} and {out_dir / 'metrics.json'} (left: truth, right: frames 1-8 given + predicted)")
    return results


def run_sample(checkpoint=None, task: str = "predict", scenario: str = "mixed", num_clips: int = 4,
               steps: int = 25, seed: int = 0, out="outputs/sample.mp4", num_given: int | None = None,
               sampler: str = DEFAULT_SAMPLER) -> dict:
    """Apply one mask task to held-out clips and write a truth | generated video; returns frame metrics."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    model = load_model(checkpoint or default_checkpoint(), device=pick_device())
    size = model.config.input_size if isinstance(model.config.input_size, int) else model.config.input_size[0]
    config = WorldConfig(size=size, num_frames=model.config.num_frames)
    clips = make_clips(scenario, split_seeds("test", num_clips), config)
    num_given = model.config.num_frames // 2 if num_given is None else num_given
    generated = generate(model, clips.frames, task, num_given=num_given, steps=steps, seed=seed, sampler=sampler)
    rows = [side_by_side(truth, fake) for truth, fake in zip(clips.frames, generated)]
    path = save_video(out, upscale(_stack_rows(rows), 4), fps=4)
    scores = {"mse": float(mse(generated, clips.frames).mean()), "psnr": float(psnr(generated, clips.frames).mean()),
              "ssim": float(ssim(generated, clips.frames).mean())}
    print(f"{task} on {num_clips} '{scenario}' clips: MSE {scores['mse']:.1f}  PSNR {scores['psnr']:.1f} dB  "
          f"SSIM {scores['ssim']:.3f}  -> {path} (left: truth, right: model)")
    return scores


def _stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Stack videos (F, H, W, 3) vertically, one clip per row, with a white line between."""
    F, _, W, _ = rows[0].shape
    line = np.full((F, 1, W, 3), 255, np.uint8)
    parts = [part for row in rows for part in (row, line)][:-1]
    return np.concatenate(parts, axis=1)
