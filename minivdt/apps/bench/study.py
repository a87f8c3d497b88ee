"""Benchmarks — the training studies behind `bench recipe`, `bench conditioning` and `bench scaling`: arms that
train the cpu-tiny VDT with the bundled recipe (BASE), each changing one thing of it, for the same budget of process
CPU seconds (the machine is shared, so wall clock would measure the neighbours) or optimizer steps, on the same clips
with the same seed, scored at a few points of the budget on held-out validation clips:
- position error of 8 sampled future frames (25 ancestral DDPM steps, fixed for every study) and the fraction of
  balls lost;
- the one-shot x̂_0 error at t = T-1 and t = T/2 (how well a single forward pass already predicts the future);
- context sensitivity: how much the x̂_0 error at t = T-1 rises when the 8 given frames are another clip's.
  A model that ignores its context scores the same either way;
- at the end of the budget, the sampled error of backward prediction and interpolation too: every arm trains all
  seven tasks, and an arm that buys forward prediction with the others must show the price.
Finished arms are kept as JSON in the study's runs folder and skipped when the command is run again, so a long study
survives interruptions; an arm cut off mid-way starts again. Arms of one folder pair clip by clip
(paired_comparison).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from ...checkpoints import write_atomic
from ...data import to_tensor, to_uint8
from ...diffusion import NUM_TRAIN_TIMESTEPS, predict_x0, sample, scheduler_for
from ...masks import make_mask
from ...metrics import position_errors
from ...tokenizer import decode_video, encode_video, save_tokenizer, train_tokenizer
from ...training import load_training_videos, make_train_config, train
from .common import QUICK_MODEL, eval_subset

VAL_SCENARIOS = ("drop", "projectile", "roll", "collide")
NUM_GIVEN = 8
# How every arm's sampled futures are scored, pinned here (not the library default) so that all arms of a study
# are scored alike; the one-shot x̂_0 numbers need no sampler.
STUDY_SAMPLER, STUDY_STEPS = "ddpm", 25
# The bundled recipe (the one the recipe study chose): every arm changes one thing of it.
BASE = dict(prediction_type="sample", timestep_sampling="high_noise", loss_weighting="none", learning_rate=1e-3,
            batch_size=16, num_train_clips=8000, mixed_precision="no", warmup_steps=100, log_every=50)


class BudgetReached(Exception):
    """Raised from the training callback once an arm has used its CPU budget."""


def _task_mask(model, batch, task: str = "predict"):
    """The study's mask (B, F, 1, H, W) of a whole-frame task: NUM_GIVEN frames given (split between the ends for
    interpolate)."""
    cfg = model.cfg
    return make_mask(task, batch, cfg.num_frames, cfg.height, cfg.width, num_given=NUM_GIVEN,
                     patch_size=cfg.patch_size)


def _to_model_space(clips, vae=None) -> torch.Tensor:
    """Clips as the model sees them: pixels (B, F, 3, H, W), or a tokenizer's latents (B, F, c, H/s, W/s)."""
    video = to_tensor(clips.frames)  # (B, F, C, H, W)
    return video if vae is None else encode_video(vae, video)


def _to_frames(x, vae=None) -> np.ndarray:
    """Model space back to uint8 frames (B, F, H, W, 3)."""
    return to_uint8(x if vae is None else decode_video(vae, x).clamp(-1, 1))


@torch.no_grad()
def sampled_error(model, clips, steps: int = STUDY_STEPS, seed: int = 0, vae=None,
                  task: str = "predict") -> tuple[np.ndarray, float]:
    """(position error px of each clip's sampled frames (B,), lost fraction) for `clips` and a whole-frame task:
    predict (8 given, 8 generated after them), backward (the last 8 given) or interpolate (4 given at each end)."""
    video = _to_model_space(clips, vae)
    mask = _task_mask(model, len(video), task)  # (B, F, 1, H, W)
    generated = mask[0].flatten(1).amax(1).bool().numpy()  # (F,) the frames the model generates
    scheduler, generator = scheduler_for(model, STUDY_SAMPLER), torch.Generator().manual_seed(seed)
    frames = _to_frames(sample(model, video, mask, scheduler, steps, generator=generator), vae)[:, generated]
    errors, lost = position_errors(frames, clips.positions[:, generated], clips.present)  # (B, F') each
    return errors.mean(-1), float(lost.mean())


@torch.no_grad()
def one_shot_error(model, clips, timestep: int, swap_context: bool = False, seed: int = 0, vae=None) -> float:
    """Position error px of the future frames of x̂_0 from ONE forward pass at `timestep`.

    swap_context=True gives every clip the 8 given frames of the next clip in the batch, while the noisy future
    and the truth it is scored against stay its own."""
    x0 = _to_model_space(clips, vae)  # (B, F, C, H, W)
    mask = _task_mask(model, len(x0))
    scheduler, generator = scheduler_for(model, STUDY_SAMPLER), torch.Generator().manual_seed(seed)
    timesteps = torch.full((len(x0),), timestep, dtype=torch.long)
    noise = torch.randn(x0.shape, generator=generator)
    x_t = scheduler.add_noise(x0, noise, timesteps)  # x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε
    context = x0.roll(1, dims=0) if swap_context else x0
    cond = (1 - mask) * context
    prediction = model(mask * x_t + cond, timesteps, cond, mask)
    future = _to_frames(predict_x0(scheduler, prediction, mask * x_t + cond, timesteps), vae)[:, NUM_GIVEN:]
    errors, _ = position_errors(future, clips.positions[:, NUM_GIVEN:], clips.present)
    return float(errors.mean())


OTHER_TASKS = ("backward", "interpolate")  # scored at the end of an arm's budget: the model must do them too


def score(model, val: dict, steps: int = STUDY_STEPS, vae=None, other_tasks: bool = False) -> dict:
    """All of an arm's validation numbers for one model (on a tokenizer's latents when `vae` is given);
    other_tasks=True adds the sampled error of backward prediction and interpolation (OTHER_TASKS)."""
    model = model.float().eval()
    T = NUM_TRAIN_TIMESTEPS
    result = {"position_error": {}, "lost": {}, "per_clip_error": {}}
    for scenario, clips in val.items():
        per_clip, result["lost"][scenario] = sampled_error(model, clips, steps, vae=vae)
        result["position_error"][scenario] = float(per_clip.mean())
        result["per_clip_error"][scenario] = [round(float(e), 4) for e in per_clip]  # for paired comparisons
    joined = [val[s] for s in val]
    result["x0_error_T"] = float(np.mean([one_shot_error(model, c, T - 1, vae=vae) for c in joined]))
    result["x0_error_half"] = float(np.mean([one_shot_error(model, c, T // 2, vae=vae) for c in joined]))
    swapped = float(np.mean([one_shot_error(model, c, T - 1, swap_context=True, vae=vae) for c in joined]))
    result["context_sensitivity"] = swapped - result["x0_error_T"]
    result["mean_position_error"] = float(np.mean(list(result["position_error"].values())))
    for task in OTHER_TASKS if other_tasks else ():
        errors = {s: sampled_error(model, clips, steps, vae=vae, task=task) for s, clips in val.items()}
        result[task] = {"mean_position_error": float(np.mean([e.mean() for e, _ in errors.values()])),
                        "lost": float(np.mean([lost for _, lost in errors.values()])),
                        "per_clip_error": {s: [round(float(x), 4) for x in e] for s, (e, _) in errors.items()}}
    return result


def run_arm(name: str, arm: dict, seed: int, budget_s: float, val: dict, out_dir: Path, num_marks: int = 4,
            steps: int = STUDY_STEPS, num_train_clips: int | None = None, model_overrides: dict | None = None,
            budget_steps: int | None = None) -> dict:
    """Train the arm `name`, whose settings `arm` override BASE, for `budget_s` process CPU seconds (or, given
    budget_steps, that many optimizer steps), scoring it at num_marks evenly spaced points; num_train_clips and
    model_overrides shrink the data and the model (for --quick)."""
    overrides = {**BASE, **arm}
    tokenizer_cpu_s = overrides.pop("tokenizer_cpu_s", None)
    if num_train_clips is not None:
        overrides["num_train_clips"] = num_train_clips
    if model_overrides:
        overrides["model_overrides"] = {**overrides.get("model_overrides", {}), **model_overrides}
    run_dir = out_dir / f"{name}__s{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)  # an arm cut off earlier starts again
    cfg = make_train_config("cpu-tiny", **overrides, seed=seed, max_steps=10 ** 7, checkpoint_every=10 ** 7,
                            out_dir=str(run_dir))
    budget = budget_s if budget_steps is None else budget_steps
    marks = [budget * (i + 1) / num_marks for i in range(num_marks)]
    curve = []
    cpu0, paused, vae = time.process_time(), [0.0], None  # paused: CPU seconds spent scoring, not training
    if tokenizer_cpu_s is not None:  # the latent arm: the tokenizer's training is part of the budget
        videos = load_training_videos(cfg)
        vae, _ = train_tokenizer(videos, steps=10 ** 9, seed=seed, progress=False,
                                 cpu_budget_s=min(tokenizer_cpu_s, budget_s / 2))
        cfg.tokenizer = str(save_tokenizer(vae, run_dir / "tokenizer"))
        print(f"  {name} seed {seed}: tokenizer trained, {time.process_time() - cpu0:.0f} CPU-s", flush=True)

    def evaluate(step, ema_model, seconds):
        used = time.process_time() - cpu0 - paused[0]
        if (used if budget_steps is None else step) < marks[len(curve)]:
            return
        pause = time.process_time()
        point = {"cpu_s": round(used, 1), "step": step,
                 **score(ema_model, val, steps, vae, other_tasks=len(curve) == num_marks - 1)}
        curve.append(point)
        print(f"  {name} seed {seed}: {used:.0f} CPU-s, step {step}, sampled {point['mean_position_error']:.2f} px, "
              f"x̂0@T {point['x0_error_T']:.2f} px, swap {point['context_sensitivity']:+.2f} px", flush=True)
        paused[0] += time.process_time() - pause
        if len(curve) == len(marks):
            raise BudgetReached

    try:
        train(cfg, progress=False, callback=evaluate, callback_every=10)
    except BudgetReached:
        pass
    return {"arm": name, "seed": seed, "budget_cpu_s": budget_s, "budget_steps": budget_steps, "overrides": arm,
            "curve": curve, "final": curve[-1] if curve else None, "threads": torch.get_num_threads()}


def run_study(args, arms, table: dict, budget_s: float = 0.0, budget_steps: int | None = None,
              run: bool = True) -> list[dict]:
    """What a study command (recipe, conditioning, scaling) reads: the finished runs of `arms` (their overrides of
    BASE in `table`) and args.seeds in the args.runs folder for this budget (process CPU seconds, or budget_steps
    optimizer steps) and args.num_val, after training each one not yet there (none when run=False). --quick
    shrinks the data, the model and the scoring."""
    unknown = [a for a in arms if a not in table]
    if unknown:  # before anything is trained or read
        raise ValueError(f"--arms must be among {list(table)}, got unknown {unknown}")
    num_val, out = 1 if args.quick else args.num_val, Path(args.runs)
    budget = f"{int(budget_s)}cpu_s" if budget_steps is None else f"{budget_steps}steps"
    paths = {(name, seed): out / f"{name}__s{seed}__{budget}__{num_val}val.json"
             for name in arms for seed in args.seeds}
    missing = [(name, seed, path) for (name, seed), path in paths.items() if run and not path.exists()]
    val = eval_subset(num_val, scenarios=VAL_SCENARIOS) if missing else None  # never trained on, nor tested
    for name, seed, path in missing:
        print(f"arm {name}, seed {seed}: {budget.replace('_', '-')}", flush=True)
        result = run_arm(name, table[name], seed, budget_s, val, out / "runs", steps=2 if args.quick else STUDY_STEPS,
                         num_train_clips=40 if args.quick else None,
                         model_overrides=QUICK_MODEL if args.quick else None, budget_steps=budget_steps)
        result["num_val_per_scenario"] = num_val
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(result, indent=1) + "\n").encode())
    # a run's file name says its design (arm, seed, budget, validation clips): a folder may hold several designs
    return [json.loads(path.read_text()) for path in sorted(paths.values()) if path.exists()]


def _per_clip(results: list[dict], arm: str, task: str = "predict") -> dict:
    """seed -> (clips,) an arm's final sampled error of `task` on every validation clip, scenarios in name order."""
    out = {}
    for r in results:
        if r["arm"] != arm or not r["final"]:
            continue
        scores = r["final"] if task == "predict" else r["final"].get(task, {})  # other tasks: a sub-dict
        if scores.get("per_clip_error"):
            out[r["seed"]] = np.concatenate([scores["per_clip_error"][s] for s in sorted(scores["per_clip_error"])])
    return out


def paired_comparison(results: list[dict], reference: str = "x0-high_noise", task: str = "predict") -> list[dict]:
    """Each arm's final sampled error of `task` minus the reference arm's, paired clip by clip on the same
    validation clips (each clip's error averaged over the seeds both arms ran): the paired standard error says
    whether a gap is larger than clip-to-clip noise. Arms without per-clip errors (older results) are left out."""
    ref, rows = _per_clip(results, reference, task), []
    for name in dict.fromkeys(r["arm"] for r in results):
        runs = _per_clip(results, name, task)
        seeds = sorted(set(runs) & set(ref))
        if name == reference or not seeds:
            continue
        d = np.mean([runs[s] for s in seeds], axis=0) - np.mean([ref[s] for s in seeds], axis=0)
        rows.append(dict(arm=name, reference=reference, task=task, seeds=seeds, clips=len(d),
                         difference=float(d.mean()),
                         se=float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")))
    return rows


def summarize(results: list[dict], table: dict) -> dict:
    """One row per arm of `table` (mean over its seeds) at the end of its budget, and its curve points (also the
    mean over its seeds, point by point: every seed is scored at the same fractions of the budget), for the report."""
    rows, curves = [], {}
    for name in table:
        runs = [r for r in results if r["arm"] == name and r["final"]]
        if not runs:
            continue
        final = [r["final"] for r in runs]
        mean = lambda key, points=final: float(np.mean([p[key] for p in points]))  # noqa: E731
        lost = lambda points: float(np.mean([np.mean(list(p["lost"].values())) for p in points]))  # noqa: E731
        rows.append(dict(arm=name, seeds=[r["seed"] for r in runs], budget_cpu_s=runs[0]["budget_cpu_s"],
                         steps=int(mean("step")),
                         position_error={s: float(np.mean([f["position_error"][s] for f in final]))
                                         for s in final[0]["position_error"]},
                         mean_position_error=mean("mean_position_error"), lost=lost(final),
                         x0_error_T=mean("x0_error_T"), x0_error_half=mean("x0_error_half"),
                         context_sensitivity=mean("context_sensitivity"),
                         other_tasks={task: float(np.mean([f[task]["mean_position_error"] for f in final]))
                                      for task in OTHER_TASKS if all(task in f for f in final)}))
        curves[name] = [dict(cpu_s=mean("cpu_s", p), step=int(mean("step", p)), sampled=mean("mean_position_error", p),
                             lost=lost(p), one_shot=mean("x0_error_T", p), swap=mean("context_sensitivity", p))
                        for p in zip(*(r["curve"] for r in runs))]
    return dict(rows=rows, curves=curves)
