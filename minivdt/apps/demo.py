"""Application — `minivdt demo` (the bundled VDT predicting physics, scored against the baselines) and
`minivdt sample` (one mask task on held-out clips)."""

from __future__ import annotations

import json

import numpy as np
import torch

from ..baselines import BASELINES, REFERENCES, vdt_predictor
from ..course import default_checkpoint
from ..checks import check_int, check_output, check_seed
from ..data import clip_config, split_seeds
from ..cards import sampling_of
from ..diffusion import SCHEDULERS, generate
from ..masks import TASKS
from ..metrics import evaluate, format_table, mse, psnr, ssim, to_jsonable
from ..training import load_model, pick_device
from ..viz import frame_grid, save_image, save_video, side_by_side, upscale
from ..world import SCENARIOS, make_clips


def run_demo(checkpoint=None, num_clips: int = 8, steps: int | None = None, out_dir="outputs/demo",
             scenarios=SCENARIOS, seed: int = 0, sampler: str | None = None) -> dict:
    """Predict frames 9-16 from 1-8 on held-out clips of every scenario; print and save the metrics.
    sampler and steps default to the model card's measured choice (cards.sampling_of)."""
    checkpoint = checkpoint or default_checkpoint()
    sampler, steps = _sampling(checkpoint, sampler, steps)
    check_int("num_clips", num_clips, 1), check_seed("seed", seed)
    out_dir = check_output("out_dir", out_dir, "dir")
    torch.manual_seed(seed)
    model = load_model(checkpoint, device=pick_device())
    config = clip_config(model)
    num_given = model.config.num_frames // 2
    methods = {"VDT (bundled)": vdt_predictor(model, steps=steps, seed=seed, sampler=sampler),
               **{name: fn for name, fn in BASELINES.items() if name != "oracle (true frames)"}, **REFERENCES}
    results, rows = {}, []
    for scenario in scenarios:
        clips = make_clips(scenario, split_seeds("test", num_clips), config)
        results[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in methods.items()}
        shown = clips.select(slice(0, 2))
        predicted = methods["VDT (bundled)"](shown.frames[:, :num_given], shown, config.num_frames - num_given)
        for truth, future in zip(shown.frames, predicted):
            rows.append(side_by_side(truth, np.concatenate([truth[:num_given], future])))
    print(f"VDT 8 -> 8 frame prediction on {num_clips} held-out clips per scenario ({steps} {sampler} "
          f"step{'s' if steps > 1 else ''})")
    print(format_table(results))
    video = save_video(out_dir / "demo.mp4", upscale(_stack_rows(rows), 4), fps=4)
    grid = save_image(out_dir / "demo.png", frame_grid(np.stack(rows)[:, num_given:], scale=2))
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(to_jsonable(results), f, indent=1)
    print(f"wrote {video}, {grid} and {out_dir / 'metrics.json'} (left: truth, right: frames 1-8 given + predicted)")
    return results


def run_sample(checkpoint=None, task: str = "predict", scenario: str = "mixed", num_clips: int = 4,
               steps: int | None = None, seed: int = 0, out="outputs/sample.mp4", num_given: int | None = None,
               sampler: str | None = None) -> dict:
    """Apply one mask task to held-out clips and write a truth | generated video; returns frame metrics.
    sampler and steps default to the model card's measured choice (cards.sampling_of)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    checkpoint = checkpoint or default_checkpoint()
    sampler, steps = _sampling(checkpoint, sampler, steps)
    check_int("num_clips", num_clips, 1), check_seed("seed", seed)
    out = check_output("out", out, "file")
    model = load_model(checkpoint, device=pick_device())
    config = clip_config(model)
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


def _sampling(checkpoint, sampler, steps) -> tuple[str, int]:
    """The sampler and steps asked for, each defaulting to the checkpoint card's measured choice."""
    card_sampler, card_steps = sampling_of(checkpoint)
    sampler = card_sampler if sampler is None else sampler
    if sampler not in SCHEDULERS:
        raise ValueError(f"sampler must be one of {tuple(SCHEDULERS)}, got {sampler!r}")
    return sampler, check_int("steps", card_steps if steps is None else steps, 1, 1000)


def _stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Stack videos (F, H, W, 3) vertically, one clip per row, with a white line between."""
    F, _, W, _ = rows[0].shape
    line = np.full((F, 1, W, 3), 255, np.uint8)
    parts = [part for row in rows for part in (row, line)][:-1]
    return np.concatenate(parts, axis=1)
