"""Application — `minivdt demo` (the bundled VDT predicting physics, scored against the baselines) and
`minivdt sample` (one mask task on held-out clips)."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import torch

from ..baselines import BASELINES, REFERENCES, vdt_predictor
from ..course import ASSETS, default_checkpoint
from ..checks import VIDEO_SUFFIXES, check_int, check_output, check_seed, writing
from ..data import clip_config, split_seeds
from ..cards import num_given_of, sampling_of
from ..diffusion import SCHEDULERS, generate
from ..masks import TASKS, make_mask
from ..metrics import evaluate, format_table, mse, psnr, ssim, to_jsonable
from ..training import load_model, pick_device
from ..viz import save_image, save_video, upscale
from ..world import SCENARIOS, STOCHASTIC_SCENARIOS, make_clips

VDT_NAME = "VDT (bundled)"
BLANK_NAME = "blank (no balls)"  # baselines.REFERENCES: every ball lost, so its position error is the cap
README_RESULTS = ASSETS / "benchmarks" / "quality.json"  # `minivdt bench quality`, the source of README's table
LABEL_W, HEADER_H = 104, 34  # px: the label column and the header band of the demo's PNG and video
GIVEN_COLOR, PREDICTED_COLOR, TEXT_COLOR = (30, 130, 60), (215, 100, 0), (20, 20, 20)
HIDDEN_GREY = 225  # the VDT row's given frames in the PNG: the model saw the true frames there
LEGEND_WIDTH = 116  # characters per line of the table's legend


def run_demo(checkpoint=None, num_clips: int = 8, steps: int | None = None, out_dir="outputs/demo",
             scenarios=SCENARIOS, seed: int = 0, sampler: str | None = None) -> dict:
    """Predict frames 9-16 from 1-8 on held-out clips of every scenario; print the metrics with a legend, and save
    them with a labelled video and frame grid of two clips per scenario.
    sampler and steps default to the model card's measured choice (cards.sampling_of)."""
    checkpoint = default_checkpoint() if checkpoint is None else checkpoint  # "" is an error, not the default
    sampler, steps = _sampling(checkpoint, sampler, steps)
    check_int("num_clips", num_clips, 1), check_seed("seed", seed)
    out_dir = check_output("out_dir", out_dir, "dir")
    torch.manual_seed(seed)
    model = load_model(checkpoint, device=pick_device())
    config = clip_config(model)
    num_given = num_given_of(checkpoint, model.cfg.num_frames)  # what the model was trained to be given
    vdt, predictions = vdt_predictor(model, steps=steps, seed=seed, sampler=sampler), []

    def recorded_vdt(context, clips, num_future):  # the video shows the very predictions the table scores
        predictions.append(vdt(context, clips, num_future))
        return predictions[-1]

    methods = {VDT_NAME: recorded_vdt, **{name: fn for name, fn in BASELINES.items() if name != "oracle (true frames)"},
               **REFERENCES}
    results, shown = {}, []
    for scenario in scenarios:
        clips = make_clips(scenario, split_seeds("test", num_clips), config)
        predictions.clear()
        results[scenario] = {name: evaluate(fn, clips, num_given) for name, fn in methods.items()}
        truth = clips.frames[:2]
        shown.append((scenario, truth, np.concatenate([truth[:, :num_given], predictions[0][:2]], 1)))
    print(f"VDT {num_given} -> {config.num_frames - num_given} frame prediction on {num_clips} held-out clips per "
          f"scenario ({steps} {sampler} step{'s' if steps > 1 else ''})")
    print(format_table(results))
    print(demo_legend(results, num_clips, config.num_frames, num_given))
    video, grid, metrics = out_dir / "demo.mp4", out_dir / "demo.png", out_dir / "metrics.json"
    with writing(video):
        save_video(video, labelled_video(shown, num_given), fps=4)
    with writing(grid):
        save_image(grid, labelled_grid(shown, num_given))
    with writing(metrics), open(metrics, "w") as f:
        json.dump(to_jsonable(results), f, indent=1)
    print(f"wrote {video} (truth beside prediction, frame by frame), {grid} (all frames: truth above prediction) and "
          f"{metrics}")
    return results


def demo_legend(results: dict, num_clips: int, num_frames: int, num_given: int) -> str:
    """What the demo table's columns mean, with the numbers (cap, frames, clip counts) taken from the run."""
    some = next(iter(results.values()))
    cap = some[BLANK_NAME]["position_error"] if BLANK_NAME in some else None
    lost = f"a lost ball counts as {cap:.2f} px, the cap (a quarter of the frame width), " if cap is not None else \
        "a lost ball counts as the cap (a quarter of the frame width), "
    lines = [
        "How to read the table: each ball is found by its colour in every predicted frame and compared with the "
        "simulator's true position.",
        f"  pos err px  distance between tracked and true ball centres, in pixels, mean over the balls and the "
        f"{num_frames - num_given} predicted frames; {lost}so erasing balls never helps",
        f"  last-step   the same at the last frame ({num_frames}), where errors have grown the most",
        "  lost        fraction of balls the tracker cannot find in the predicted frames (1.00: none looks like a ball)",
        "  contact     fraction of clips whose predicted frames answer \"does the red agent touch its target?\" as "
        "the simulator does",
        "  PSNR, SSIM  pixel similarity to the true frames. The balls cover few pixels, so blank frames are wrong only "
        "where the balls are, while copy_last_frame is wrong where they are and where they were: pixel scores can "
        "prefer a wrong picture, the ball positions cannot",
    ]
    reference = _readme_clips()
    lines.append(f"  clips       {num_clips} held-out test clips per scenario (--num-clips), so expect sampling noise"
                 + (f"; README's table is `minivdt bench quality` on {reference} per scenario" if reference else ""))
    return "\n".join(textwrap.fill(line, LEGEND_WIDTH, subsequent_indent=" " * 14) for line in lines)


def _readme_clips() -> int | None:
    """Test clips per scenario behind README's results table (assets/benchmarks/quality.json), None if absent."""
    try:
        return int(json.loads(README_RESULTS.read_text())["num_clips"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_sample(checkpoint=None, task: str = "predict", scenario: str = "mixed", num_clips: int = 4,
               steps: int | None = None, seed: int = 0, out="outputs/sample.mp4", num_given: int | None = None,
               sampler: str | None = None) -> dict:
    """Apply one mask task to held-out clips and write a truth | generated video; returns metrics of the generated
    positions only (the given ones are copies of the truth and would flatter every score).
    sampler and steps default to the model card's measured choice (cards.sampling_of)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    checkpoint = default_checkpoint() if checkpoint is None else checkpoint  # "" is an error, not the default
    uncertain = task == "predict" and scenario in STOCHASTIC_SCENARIOS  # its own measured sampler (lesson 9)
    sampler, steps = _sampling(checkpoint, sampler, steps, "stochastic" if uncertain else "predict")
    check_int("num_clips", num_clips, 1), check_seed("seed", seed)
    out = check_output("out", out, "file", VIDEO_SUFFIXES)
    model = load_model(checkpoint, device=pick_device())
    config = clip_config(model)
    clips = make_clips(scenario, split_seeds("test", num_clips), config)
    num_given = num_given_of(checkpoint, model.cfg.num_frames) if num_given is None else \
        check_int("num_given", num_given, 1, model.cfg.num_frames - 1)
    generated = generate(model, clips.frames, task, num_given=num_given, steps=steps, seed=seed, sampler=sampler)
    mask = task_mask(model, task, clips.frames.shape, num_given, seed)
    scores = generated_scores(generated, clips.frames, mask)
    video = labelled_video([(scenario, clips.frames, generated)], num_given, generated=mask.mean((0, 2, 3)))
    with writing(out):
        path = save_video(out, video, fps=4)
    ssim_text = "n/a (no whole frame generated)" if scores["ssim"] is None else f"{scores['ssim']:.3f}"
    print(f"{task} on {num_clips} '{scenario}' clips, scored on the generated {scores['generated_fraction']:.0%} of "
          f"the pixels: MSE {scores['mse']:.1f}  PSNR {scores['psnr']:.1f} dB  SSIM {ssim_text}  -> {path} "
          f"(left: truth, right: the model; each frame says whether it was given or generated)")
    return scores


def task_mask(model, task: str, shape: tuple, num_given: int, seed: int) -> np.ndarray:
    """Bool (B, F, H, W): the positions `diffusion.generate` fills for these arguments (it draws its mask first,
    from a generator seeded with `seed`)."""
    B, F, H, W, _ = shape
    mask = make_mask(task, B, F, H, W, num_given=num_given, patch_size=model.config.patch_size,
                     generator=torch.Generator().manual_seed(seed))
    return mask[:, :, 0].numpy() > 0.5


def generated_scores(generated: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict:
    """MSE, PSNR and SSIM of the generated positions only: uint8 clips (B, F, H, W, 3) and a bool mask (B, F, H, W).

    MSE and PSNR: per frame over its generated pixels, averaged over the frames that have any (for `predict` this is
    what `demo` and metrics.evaluate report). SSIM needs whole frames: over the wholly generated ones, None if none."""
    if not np.array_equal(generated[~mask], truth[~mask]):
        raise RuntimeError("the given positions of the generated clips differ from the truth: task_mask no longer "
                           "matches diffusion.generate's mask")
    frames = np.argwhere(mask.any((-2, -1)))  # (n, 2): (clip, frame) with generated pixels
    pixels = [(generated[b, f][mask[b, f]], truth[b, f][mask[b, f]]) for b, f in frames]
    as_frame = [(pred[None, :, None], true[None, :, None]) for pred, true in pixels]  # (1 frame, n, 1, 3)
    whole = mask.all((-2, -1))
    return {"mse": float(np.mean([mse(p, t)[0] for p, t in as_frame])),
            "psnr": float(np.mean([psnr(p, t)[0] for p, t in as_frame])),
            "ssim": float(ssim(generated[whole], truth[whole]).mean()) if whole.any() else None,
            "generated_fraction": float(mask.mean())}


def _sampling(checkpoint, sampler, steps, task: str = "predict") -> tuple[str, int]:
    """The sampler and steps asked for, each defaulting to the checkpoint card's measured choice for `task`
    (cards.SAMPLING_TASKS)."""
    card_sampler, card_steps = sampling_of(checkpoint, task)
    sampler = card_sampler if sampler is None else sampler
    if sampler not in SCHEDULERS:
        raise ValueError(f"sampler must be one of {tuple(SCHEDULERS)}, got {sampler!r}")
    return sampler, check_int("steps", card_steps if steps is None else steps, 1, 1000)


# --------------------------------------------------------------------------------------------
#  Labelled pictures: which scenario, which frames were given, which side is the truth
# --------------------------------------------------------------------------------------------

def labelled_grid(shown: list, num_given: int, scale: int = 2) -> np.ndarray:
    """One PNG of [(scenario, truth (B, F, H, W, 3), prediction (B, F, H, W, 3)), ...]: per clip a truth row above
    a VDT row (its given frames left grey), a gap between given and predicted frames, and labels."""
    _, first, _ = shown[0]
    F, H, W = first.shape[1:4]
    h, w, gap, split, pair_gap = H * scale, W * scale, 1, 6, 5
    xs = [LABEL_W + f * (w + gap) + (split if f >= num_given else 0) for f in range(F)]
    rows = [(f"{scenario} {i + 1}: {kind}", clip) for scenario, truth, predicted in shown
            for i in range(len(truth)) for kind, clip in (("truth", truth[i]), ("VDT", predicted[i]))]
    ys = [HEADER_H + r * (h + gap) + (r // 2) * pair_gap for r in range(len(rows))]
    image = np.full((ys[-1] + h + 4, xs[-1] + w + 4, 3), 255, np.uint8)
    texts = [(xs[0], 2, f"given to the model (frames 1-{num_given})", GIVEN_COLOR),
             (xs[num_given], 2, f"predicted by the VDT (frames {num_given + 1}-{F})", PREDICTED_COLOR)]
    texts += [(x + w // 2 - 6, 18, str(f + 1), TEXT_COLOR) for f, x in enumerate(xs)]
    for (label, clip), y in zip(rows, ys):
        for f, x in enumerate(xs):
            hidden = label.endswith("VDT") and f < num_given
            image[y:y + h, x:x + w] = HIDDEN_GREY if hidden else upscale(clip[f], scale)
        texts.append((4, y + h // 2 - 7, label, TEXT_COLOR))
        if label.endswith("VDT"):
            texts.append((xs[0] + 6, y + h // 2 - 7, "given: the model saw the true frames above", GIVEN_COLOR))
    return _draw_text(image, texts)


def labelled_video(shown: list, num_given: int, scale: int = 4, generated=None) -> np.ndarray:
    """Video frames (F, H', W', 3) of the same clips: truth | VDT per row, the scenario on the left, and a header
    saying which frame this is and whether the model was given it or predicted it (also the prediction's frame
    colour). generated: the share of each frame's pixels the model generated (F,), for tasks other than forward
    prediction (minivdt sample); by default frames 1..num_given are given and the rest predicted."""
    _, first, _ = shown[0]
    F, H, W = first.shape[1:4]
    generated = np.array([0.0] * num_given + [1.0] * (F - num_given)) if generated is None else np.asarray(generated)
    h, w, gap, border = H * scale, W * scale, 4, 3
    pairs = [(f"{scenario} {i + 1}", truth[i], predicted[i]) for scenario, truth, predicted in shown
             for i in range(len(truth))]
    x_truth, x_vdt = LABEL_W + border, LABEL_W + w + 3 * border + gap
    ys = [HEADER_H + border + r * (h + 2 * border + gap) for r in range(len(pairs))]
    base = np.full((ys[-1] + h + 2 * border, x_vdt + w + 2 * border, 3), 255, np.uint8)
    out = []
    for f in range(F):
        given = generated[f] == 0
        color = GIVEN_COLOR if given else PREDICTED_COLOR
        image = base.copy()
        for (_, truth, predicted), y in zip(pairs, ys):
            image[y - border:y + h + border, x_vdt - border:x_vdt + w + border] = color
            image[y:y + h, x_truth:x_truth + w] = upscale(truth[f], scale)
            image[y:y + h, x_vdt:x_vdt + w] = upscale(predicted[f], scale)
        state = "given to the model" if given else "predicted by the VDT" if generated[f] == 1 else \
            f"{generated[f]:.0%} of it generated by the VDT, the rest given"
        texts = [(4, 2, f"frame {f + 1} of {F}: {state}", color),
                 (x_truth, 18, "truth", TEXT_COLOR), (x_vdt, 18, "VDT" + (": given, = truth" if given else ""), color)]
        texts += [(4, y + h // 2 - 7, label, TEXT_COLOR) for (label, _, _), y in zip(pairs, ys)]
        out.append(_draw_text(image, texts))
    return np.stack(out)


def _draw_text(image: np.ndarray, texts: list) -> np.ndarray:
    """image (H, W, 3) uint8 with each (x, y, text, rgb) of `texts` written on it in PIL's built-in font."""
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(image)
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for x, y, text, color in texts:
        draw.text((x, y), text, fill=color, font=font)
    return np.asarray(canvas)
