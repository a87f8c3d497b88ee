"""Benchmarks — the recipe study (`minivdt bench recipe`): which training recipe makes the VDT learn physics on a
CPU budget? Every arm changes one thing of the bundled recipe (study.BASE: prediction target, timestep sampling,
loss weighting, patch, attention, pixels or latents, learning rate, batch, task mix) and trains for the same process
CPU seconds (study.py says how arms are trained and scored). The screen runs every arm with one seed on a few clips;
`--stage final` reruns the arms it left close with several seeds and more clips, and pairs them clip by clip against
the base arm; `--no-run` reports a study under way from its runs folder, training nothing."""

from __future__ import annotations

from pathlib import Path

from .common import markdown, md_stamp, md_table, plot_curves, publish, render_files, set_threads, shown, stamp
from .study import BASE, OTHER_TASKS, STUDY_SAMPLER, STUDY_STEPS, paired_comparison, run_study, summarize

ARMS = {
    # parameterisation x timestep sampling / loss weighting
    "eps-uniform": dict(prediction_type="epsilon", timestep_sampling="uniform"),
    "v-uniform": dict(prediction_type="v_prediction", timestep_sampling="uniform"),
    "x0-uniform": dict(timestep_sampling="uniform"),
    "x0-high_noise": dict(),
    "v-min_snr": dict(prediction_type="v_prediction", timestep_sampling="uniform", loss_weighting="min_snr"),
    "eps-min_snr": dict(prediction_type="epsilon", timestep_sampling="uniform", loss_weighting="min_snr"),
    "v-high_noise": dict(prediction_type="v_prediction"),
    # the backbone as a plain regressor: x_0 target at t = T-1 only, forward prediction only
    "regressor": dict(timestep_sampling="max", task_weights={"predict": 1.0}),
    # tokens and attention
    "x0-high_noise-p4": dict(model_overrides={"patch_size": 4}),
    # pixels vs latents, as the paper: a tiny AutoencoderKL (2x down, 16 x 16 x 4 latents) trained first, inside the
    # budget; latent patch 4 gives the same 16 tokens per frame as pixel patch 8
    "x0-high_noise-latent": dict(tokenizer_cpu_s=300, model_overrides={"patch_size": 4}),
    "x0-high_noise-joint": dict(model_overrides={"attention_mode": "joint"}),
    # conditioning (lesson 6, `minivdt bench conditioning`): the base recipe uses concat
    "x0-high_noise-adaln": dict(model_overrides={"cond_mode": "adaln"}),
    "x0-high_noise-cross_attn": dict(model_overrides={"cond_mode": "cross_attn"}),
    # optimisation
    "x0-high_noise-lr5e-4": dict(learning_rate=5e-4),
    "x0-high_noise-lr2e-3": dict(learning_rate=2e-3),
    "x0-high_noise-b8": dict(batch_size=8),
    "x0-high_noise-b32": dict(batch_size=32),
    # task mix: forward prediction heavy, every task still present
    "x0-high_noise-predict_heavy": dict(task_weights={"predict": 0.8, "backward": 0.04, "interpolate": 0.04,
                                                      "image_to_video": 0.02, "spatial_completion": 0.04,
                                                      "random": 0.04, "unconditional": 0.02}),
}


# The final comparison (`--stage final`): the arms the screen left within reach of the base arm, most telling first.
# b32 (5.53 px on the screen) and the rest were behind at the end of the budget and at most points of their curves.
# x0-uniform is here although it ended 0.44 px behind: its curve led the base arm's up to 900 CPU-s.
FINAL_ARMS = ("x0-high_noise", "x0-high_noise-b8", "x0-high_noise-lr2e-3", "x0-high_noise-predict_heavy",
              "x0-uniform", "x0-high_noise-lr5e-4")

# BENCHMARKS.md's recipe sections by JSON name: (title, what is particular to it). recipe_final_xeon holds the two
# arms the final comparison left unfinished, run on a second machine (its runs: assets/benchmarks/recipe_xeon).
SECTIONS = {
    "recipe": ("Recipe study (which training recipe learns physics on a CPU budget)",
               "A screen: every arm with one seed on a few clips (`--stage final` reruns the close arms)."),
    "recipe_final": ("Recipe study, final comparison (the arms the screen left close)", ""),
    "recipe_final_xeon": ("Recipe study, final comparison: the unfinished arms on a second machine",
                          "The arms the final comparison above left unfinished, beside a rerun of the base arm with "
                          "the same seeds on the machine stamped here; they pair only with this base arm, since a CPU "
                          "second there buys other work. (`--block` is gone: `--stage final --no-run --runs "
                          "assets/benchmarks/recipe_xeon` renders these runs again.)"),
}


def paired_word(p: dict, z: float = 2.0) -> str:
    """A paired row against its reference: "better" or "worse" by more than `z` paired standard errors, else
    "within 2 SE" (clip-to-clip noise)."""
    if abs(p["difference"]) <= z * p["se"]:
        return f"within {z:g} SE"
    return "better" if p["difference"] < 0 else "worse"


def render(r: dict, page) -> str:
    """A recipe section of BENCHMARKS.md: one row per arm (with the other tasks where they were scored), and for a
    final comparison each arm paired clip by clip against the base arm."""
    title, particular = SECTIONS[r["section"]]
    base = ", ".join(f"{k}={v}" for k, v in r["base"].items())
    tasks = [t for t in OTHER_TASKS if any(t in a.get("other_tasks", {}) for a in r["rows"])]
    lines = [f"## {title}", ""] + md_stamp(r) + ([particular, ""] if particular else [])
    lines += [f"Every arm changes one thing of the base recipe ({base}) and trains the cpu-tiny VDT for the same "
              f"process CPU seconds on the same clips and seed. Scored on {r['num_val_per_scenario']} validation clips "
              "per scenario (drop, projectile, roll, collide): position error of sampled futures, balls lost, "
              "one-shot x̂₀ error at t = T-1 and T/2, and how much the x̂₀ error at t = T-1 rises when the given "
              "frames are another clip's (0 = the context is ignored)"
              + ("; at the end of the budget, the sampled error of backward prediction (the last 8 frames given) and "
                 "interpolation (4 at each end)" if tasks else "")
              + ". Arms may have run on different machines, where a CPU second is not the same work: the steps column "
              "says how many updates each arm got.", ""]
    rows = [[a["arm"], len(a["seeds"]), f"{a['budget_cpu_s']:.0f}", a["steps"], f"{a['mean_position_error']:.2f}",
             " / ".join(f"{v:.2f}" for v in a["position_error"].values()), f"{a['lost']:.2f}",
             f"{a['x0_error_T']:.2f}", f"{a['x0_error_half']:.2f}", f"{a['context_sensitivity']:+.2f}",
             *(f"{a['other_tasks'][t]:.2f}" if t in a.get("other_tasks", {}) else "—" for t in tasks)]
            for a in r["rows"]]
    lines += md_table(["arm", "seeds", "CPU s", "steps", "sampled px", "drop / proj / roll / collide", "lost",
                       "x̂₀@T px", "x̂₀@T/2 px", "swap px", *(f"{t} px" for t in tasks)], rows) + [""]
    if r.get("paired"):
        lines += [f"Paired against {r['paired'][0]['reference']} on the same validation clips (each clip's "
                  "sampled error averaged over the seeds both ran; negative = the arm is better; SE = paired "
                  "standard error over clips; better or worse = by more than 2 SE):", ""]
        lines += md_table(["arm", "task", "seeds", "clips", "Δ sampled px", "paired SE", "|Δ| / SE", "verdict"],
                          [[p["arm"], p.get("task", "predict"), " ".join(map(str, p["seeds"])), p["clips"],
                            f"{p['difference']:+.2f}", f"{p['se']:.2f}",
                            f"{abs(p['difference']) / p['se']:.1f}" if p["se"] > 0 else "n/a", paired_word(p)]
                           for p in r["paired"]]) + [""]
    if r.get("unfinished"):
        lines += [f"Not finished yet, so not in the tables (seeds done of {len(r['seeds'])}): "
                  + ", ".join(f"{a} ({n})" for a, n in r["unfinished"].items()) + ".", ""]
    if r.get("plot"):
        lines += [f"![recipe curves]({shown(r['plot'], page)})", ""]
    return markdown(lines)


def main(args) -> dict:
    """`minivdt bench recipe`."""
    set_threads(args)
    arms = args.arms or list(ARMS if args.stage == "screen" else FINAL_ARMS)
    budget = 2.0 if args.quick else args.budget_s
    results = run_study(args, arms, ARMS, budget, run=not args.no_run)
    # an arm enters the tables only with every requested seed finished; the others are listed as unfinished
    done = {a: sum(r["arm"] == a for r in results) for a in arms}  # seeds finished per arm
    complete = [a for a in arms if done[a] == len(set(args.seeds))]
    results = [r for r in results if r["arm"] in complete]
    summary = summarize(results, ARMS)
    summary["paired"] = [row for task in ("predict",) + OTHER_TASKS for row in paired_comparison(results, task=task)]
    # the screen (one seed, few clips, every arm) and the final comparison (the close arms, several seeds, more
    # clips) are two sections of BENCHMARKS.md
    name = "recipe" if args.stage == "screen" else "recipe_final"
    section = dict(section=name, quick=args.quick, num_val_per_scenario=1 if args.quick else args.num_val, base=BASE,
                   arms=ARMS, seeds=sorted(set(args.seeds)), unfinished={a: done[a] for a in arms if a not in complete},
                   **summary, **stamp())
    panel = lambda key: {arm: ([p["cpu_s"] for p in points], [p[key] for p in points])  # noqa: E731
                         for arm, points in summary["curves"].items()}
    section["plot"] = str(plot_curves(Path(args.out) / f"{name}_curves.png",
                                      {f"sampled future ({STUDY_SAMPLER}, {STUDY_STEPS} steps)": panel("sampled"),
                                       "one-shot x̂₀ at t = T-1": panel("one_shot")},
                                      "training CPU seconds", "position error px (val)").resolve())
    return publish(name, section, render, args)


def rerender(args):
    """`minivdt bench report`: the recipe sections again from their JSON files."""
    render_files(SECTIONS, render, args)
