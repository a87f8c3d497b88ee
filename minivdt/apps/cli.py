"""Application — the `minivdt` command: data previews, training, sampling, the demo and the benchmarks.

Heavy imports (torch, diffusers) happen inside each subcommand so that `minivdt --help` is instant.
Every argument is checked before any compute; an error is one line on stderr and a non-zero exit
(MINIVDT_DEBUG=1 shows the traceback instead).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys

from ..checks import MAX_SEED, check_float, check_int, check_output

DESCRIPTION = """\
minivdt: a small Video Diffusion Transformer (VDT) that learns to predict bouncing-ball physics.

Start with `minivdt demo`: it loads the bundled model, predicts 8 future frames from 8 given ones
for held-out clips of every scenario, writes a video and compares the result with simple baselines.
"""


SAMPLERS = ("ddpm", "ddim", "dpm")  # diffusion.SCHEDULERS, named here so that --help stays torch-free
MAX_CLIPS = 100_000  # more clips than any run here needs; an absurd count would fail deep in an allocation


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int(low, high=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int in [{low}, {high or 'inf'}], got {text!r}") from None
        try:
            return check_int("value", value, low, high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int in [{low}, {high or 'inf'}], got {value}") from None
    return parse


def _positive_float(text):
    try:
        return check_float("value", float(text), 0, low_open=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}") from None


POSITIVE = _int(1)
SEED = _int(0, MAX_SEED)
SCENARIO_NAMES = ("drop", "projectile", "roll", "collide", "mixed", "bounce")  # world.ALL_SCENARIOS, torch-free


def _world(text):
    """KEY=VALUE[,KEY=VALUE...] -> a dict of WorldConfig overrides, each value checked by WorldConfig itself."""
    from ..world import WorldConfig, make_world

    types = {f.name: f.type for f in __import__("dataclasses").fields(WorldConfig)}
    overrides = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...], got {item.strip()!r}")
        kind = types.get(key, "float")
        try:
            if key == "radius_range":
                overrides[key] = tuple(float(v) for v in value.split(":"))
            elif kind == "bool":
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                overrides[key] = value.lower() in ("true", "1")
            else:
                overrides[key] = int(value) if kind == "int" else float(value)
        except ValueError:
            what = {"bool": "true or false", "int": "an int"}.get(kind, "LOW:HIGH" if key == "radius_range" else
                                                                 "a number")
            raise argparse.ArgumentTypeError(f"{key} must be {what}, got {value!r}") from None
    try:
        make_world(overrides)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("world: ")) from None
    return overrides


def _scenarios(text):
    names = tuple(name.strip() for name in text.split(","))
    bad = [name for name in names if name not in SCENARIO_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"scenarios must be names from {', '.join(SCENARIO_NAMES)}, got {bad[0]!r}")
    return tuple(dict.fromkeys(names))


def _add_data(sub):
    data = sub.add_parser("data", help="simulate and look at the bouncing-ball world",
                          description="Simulate the Physion-style bouncing-ball world.")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    preview = data_sub.add_parser("preview", help="write a video and a frame grid of every scenario")
    preview.add_argument("--out", default="outputs/preview", help="folder for the videos and images")
    preview.add_argument("--size", type=_int(16, 512), default=32, help="frame height and width in pixels (default 32)")
    preview.add_argument("--frames", type=_int(2, 256), default=16, help="frames per clip (default 16)")
    preview.add_argument("--seed", type=SEED, default=0, help="random seed of the first clip")
    generate = data_sub.add_parser("generate", help="simulate a split and cache it as .npz")
    generate.add_argument("--split", choices=["train", "val", "test"], default="train")
    generate.add_argument("--num-clips", type=_int(1, MAX_CLIPS), default=4096,
                          help="clips to simulate (train split only)")
    generate.add_argument("--size", type=_int(16, 512), default=32)
    generate.add_argument("--frames", type=_int(2, 256), default=16)
    generate.add_argument("--out", required=True, help="path of the .npz file to write")


def _add_train(sub):
    from_preset = "a named preset: cpu-tiny (2 CPU cores, minutes), laptop-gpu, smoke (seconds)"
    train = sub.add_parser("train", help="train a VDT on the bouncing-ball world",
                           description="Train a VDT with unified spatio-temporal mask modeling. "
                                       "Run under `accelerate launch` for several processes.")
    train.add_argument("--preset", default="cpu-tiny", help=from_preset)
    train.add_argument("--out", help="run folder for checkpoints and the log (default runs/<preset>)")
    train.add_argument("--steps", type=POSITIVE, help="total optimisation steps (overrides the preset)")
    train.add_argument("--batch-size", type=_int(1, 4096), help="global batch size (overrides the preset)")
    train.add_argument("--cond-mode", choices=["concat", "adaln", "cross_attn"],
                       help="how the model sees the given frames (default: the preset's, concat)")
    train.add_argument("--minutes", type=_positive_float, help="stop after this many minutes of training")
    train.add_argument("--checkpoint-every", type=POSITIVE, help="save a checkpoint every N steps")
    train.add_argument("--log-every", type=POSITIVE, help="write a log.jsonl line every N steps")
    train.add_argument("--learning-rate", type=_positive_float,
                       help="peak learning rate (overrides the preset; may be changed on --resume)")
    train.add_argument("--seed", type=SEED, help="random seed")
    train.add_argument("--world", type=_world, default=None, metavar="KEY=VALUE[,KEY=VALUE...]",
                       help="change the simulated world (any WorldConfig field: gravity, restitution, friction, "
                            "floor_height, substeps, radius_range=LOW:HIGH, bounce_angle, rough_floor=true|false), "
                            "e.g. gravity=0.015,restitution=0.6; stored in the run and its model card")
    train.add_argument("--scenarios", type=_scenarios, default=None, metavar="NAME[,NAME...]",
                       help="scenarios of the training clips: drop, projectile, roll, collide, mixed and the "
                            "stochastic bounce (default: the five deterministic ones)")
    train.add_argument("--data", default=None, metavar="PATH",
                       help="train on your own clips instead: an .npz from `minivdt data generate` or a folder of "
                            ".mp4/.gif/.webm videos (cut into windows, resized to the model's size, split into "
                            "train/val by file)")
    train.add_argument("--init-from", default=None, metavar="MODEL",
                       help="start from a trained model folder's weights (fine-tuning), e.g. assets/vdt-cpu-tiny")
    train.add_argument("--resume", action="store_true",
                       help="continue from the run folder's checkpoint (an error if there is none; without --resume a "
                            "folder that holds a checkpoint is refused). --steps, --minutes, --checkpoint-every, "
                            "--log-every and --learning-rate may differ from the first session")


def _add_export(sub):
    export = sub.add_parser("export", help="copy a run's EMA model to a folder, with a training.json card",
                            description="Export the EMA weights of a training run as a standalone model folder "
                                        "(what assets/vdt-cpu-tiny is), with steps and training time recorded.")
    export.add_argument("run", help="run folder written by `minivdt train`")
    export.add_argument("out", help="destination folder")


def _add_sample(sub):
    sample = sub.add_parser("sample", help="run a trained model on held-out clips and write a video",
                            description="Fill in the masked part of held-out clips with a trained model and "
                                        "write a truth | prediction video plus metrics.")
    sample.add_argument("--checkpoint", default=None, help="model folder or run folder (default: the bundled model)")
    sample.add_argument("--task", default="predict", help="mask task: predict, backward, interpolate, "
                        "image_to_video, spatial_completion, random or unconditional")
    sample.add_argument("--scenario", default="mixed", help="drop, projectile, roll, collide, mixed or bounce")
    sample.add_argument("--num-given", type=_int(1, 255), default=None,
                        help="given frames of the predict/backward/interpolate masks (default: the model card's, 8)")
    sample.add_argument("--num-clips", type=_int(1, 1000), default=4)
    sample.add_argument("--steps", type=_int(1, 1000), default=None, help="sampling steps (default: the model card's measured choice)")
    sample.add_argument("--sampler", choices=SAMPLERS, default=None,
                        help="sampler (default: the model card's measured choice, else minivdt.diffusion.DEFAULT_SAMPLER)")
    sample.add_argument("--seed", type=SEED, default=0)
    sample.add_argument("--out", default="outputs/sample.mp4", help="video path (.mp4 or .gif)")


def _add_demo(sub):
    demo = sub.add_parser("demo", help="the main job: predict 8 future frames with the bundled model",
                          description="Load the bundled checkpoint, predict frames 9-16 from frames 1-8 for "
                                      "held-out clips of every scenario, write a video and print the metrics "
                                      "next to the copy-last-frame and constant-velocity baselines.")
    demo.add_argument("--checkpoint", default=None, help="model folder (default: the bundled model in assets/)")
    demo.add_argument("--num-clips", type=_int(1, 1000), default=8, help="held-out clips per scenario")
    demo.add_argument("--steps", type=_int(1, 1000), default=None, help="sampling steps (default: the model card's measured choice)")
    demo.add_argument("--sampler", choices=SAMPLERS, default=None,
                      help="sampler (default: the model card's measured choice, else minivdt.diffusion.DEFAULT_SAMPLER)")
    demo.add_argument("--out", default="outputs/demo", help="folder for the video and the metrics JSON")


def _add_eval(sub):
    ev = sub.add_parser("eval", help="how good is a trained model: against the baselines, on its own world",
                        description="Score a model or run folder on held-out clips of the world it was trained on "
                                    "(position error, lost balls, contact accuracy against copy-last-frame and "
                                    "constant velocity; the energy score and Brier score on stochastic scenarios), "
                                    "or on your own clips (MSE/PSNR/SSIM against copy-last). Prints the table, "
                                    "writes eval.json and a truth | prediction video.")
    ev.add_argument("checkpoint", help="model folder (`minivdt export`) or run folder (`minivdt train --out`)")
    ev.add_argument("--world", type=_world, default=None, metavar="KEY=VALUE[,KEY=VALUE...]",
                    help="score on another world than the one it was trained on (the title says so)")
    ev.add_argument("--scenarios", type=_scenarios, default=None, metavar="NAME[,NAME...]",
                    help="scenarios to score (default: the ones it was trained on)")
    ev.add_argument("--data", default=None, metavar="PATH", help="score on your own clips (.npz or a video folder): "
                    "the validation files of the by-file split")
    ev.add_argument("--num-clips", type=_int(1, 10_000), default=32, help="test clips per scenario (default 32)")
    ev.add_argument("--samples", type=_int(1, 256), default=8,
                    help="samples per clip on stochastic scenarios (default 8)")
    ev.add_argument("--seed", type=SEED, default=0)
    ev.add_argument("--out", default="outputs/eval", help="folder for eval.json and eval.mp4")


def _add_plot(sub):
    plot = sub.add_parser("plot", help="a run's learning curves as a PNG",
                          description="Plot training loss and validation loss against steps and training time.")
    plot.add_argument("run", help="run folder written by `minivdt train`")
    plot.add_argument("--out", default=None, help="PNG path (default RUN/curves.png)")


def _add_bench(sub):
    bench = sub.add_parser("bench", help="baselines, prediction quality and speed benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    for name, (help_text, description, add_arguments, _) in BENCH_COMMANDS.items():
        parser = bench_sub.add_parser(name, help=help_text, description=description)
        for add in add_arguments:
            add(parser)


def _add_common(parser):
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (seconds; a smoke test)")
    parser.add_argument("--out", default="outputs/bench", help="folder for the JSON files and the plot")
    parser.add_argument("--md", default="BENCHMARKS.md", help="markdown report to (re)write")
    parser.add_argument("--threads", type=_int(1, 1024), default=None, help="torch CPU threads (default: torch's choice)")


def _add_quality_args(parser):
    parser.add_argument("--checkpoint", default=None, help="VDT model folder (default: the bundled model)")
    parser.add_argument("--budget-s", type=_positive_float, default=None,
                        help="CNN training seconds (default: train_seconds of the checkpoint's training.json)")
    parser.add_argument("--num-clips", type=_int(1, MAX_CLIPS), default=None, help="test clips per scenario (default 64)")
    parser.add_argument("--scenarios", nargs="+", choices=["drop", "projectile", "roll", "collide", "mixed"], default=None)
    parser.add_argument("--steps", type=_int(1, 1000), default=None,
                        help="sampling steps of the VDT (default: the checkpoint card's measured choice)")
    parser.add_argument("--sampler", choices=SAMPLERS, default=None,
                        help="sampler of the VDT (default: the checkpoint card's measured choice, see bench sampler)")
    parser.add_argument("--no-cnn", action="store_true", help="leave out the equal-budget SimVP-CNN")
    parser.add_argument("--cnn-run", default=None,
                        help="a folder: reuse the SimVP trained there for the same budget, or train and save it "
                             "(baselines.save_cnn; an interrupted training continues from FOLDER.partial.pt)")
    parser.add_argument("--vdt-run", default=None,
                        help="VDT run folder (its log.jsonl) or .jsonl file with position_error points "
                             "(e.g. assets/bundled_curve.py's)")


def _add_speed_args(parser):
    parser.add_argument("--sizes", nargs="+", default=None, help="model presets (default cpu-tiny VDT-S/4)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")


def _add_study_args(parser, unit: str, runs: str):
    """--seeds, --num-val and --runs: what every training study (recipe, conditioning, scaling) shares."""
    parser.add_argument("--seeds", nargs="+", type=SEED, default=[0], help="training seeds (default 0)")
    parser.add_argument("--num-val", type=_int(1, MAX_CLIPS), default=16, help="validation clips per scenario (default 16)")
    parser.add_argument("--runs", default=runs, help=f"folder of finished {unit}, as JSON: those are not run again")


def _add_conditioning_args(parser):
    parser.add_argument("--budget-s", type=_positive_float, default=1200.0, help="process CPU seconds per mode (default 1200)")
    _add_study_args(parser, "arms (use the recipe study's --runs: concat is its base arm)", "outputs/bench/recipe")


def _add_scaling_args(parser):
    parser.add_argument("--steps", type=POSITIVE, default=2000, help="training steps per size (default 2000)")
    _add_study_args(parser, "sizes", "outputs/bench/scaling")


def _add_recipe_args(parser):
    parser.add_argument("--arms", nargs="+", default=None, help="arms to run, in order (default: all, see recipe.ARMS)")
    parser.add_argument("--budget-s", type=_positive_float, default=1200.0, help="process CPU seconds per arm (default 1200)")
    parser.add_argument("--stage", choices=("screen", "final"), default="screen",
                        help="which section the results make: the screen of every arm (recipe.json) or the final "
                             "comparison of the close ones with several seeds and more clips (recipe_final.json; "
                             "its default arms are recipe.FINAL_ARMS)")
    parser.add_argument("--no-run", action="store_true",
                        help="train nothing: report the arms already finished in --runs (a study still under way); "
                             "arms missing a seed are listed as unfinished")
    _add_study_args(parser, "arms", "outputs/bench/recipe")


def _add_stochastic_args(parser):
    parser.add_argument("--checkpoint", default=None, help="VDT model folder (default: the bundled model)")
    parser.add_argument("--cnn-run", default=None,
                        help="folder of the equal-budget SimVP-CNN (baselines.save_cnn; assets/train_stochastic_cnn.py)")
    parser.add_argument("--num-clips", type=_int(1, MAX_CLIPS), default=64, help="test clips per scenario (default 64)")
    parser.add_argument("--futures", type=_int(1, 1024), default=16, help="simulator futures per clip, M (default 16)")
    parser.add_argument("--samples", type=_int(1, 1024), default=16, help="VDT samples per clip, K (default 16)")
    parser.add_argument("--curve", default=None, help="the VDT run's curve.jsonl (assets/train_stochastic.py), shown "
                        "beside the CNN's training curve")


def _add_sampler_args(parser):
    parser.add_argument("--checkpoint", default=None, help="VDT model folder (default: the bundled model)")
    parser.add_argument("--candidates", nargs="+", default=None, metavar="SAMPLER:STEPS",
                        help="samplers to compare, e.g. ddpm:25 ddim:10 (default: see bench/sampler.py CANDIDATES)")
    parser.add_argument("--num-val", type=_int(1, MAX_CLIPS), default=32, help="validation clips per scenario (default 32)")
    parser.add_argument("--write-card", action="store_true",
                        help="record the choice in the checkpoint's training.json (demo and bench quality use it)")


def _add_report_args(parser):
    parser.add_argument("--out", default="assets/benchmarks", help="folder of the benchmark JSON files to read")
    parser.add_argument("--md", default="BENCHMARKS.md", help="markdown report to (re)write")


def _add_card_args(parser):
    parser.add_argument("--checkpoint", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--out", default="assets/benchmarks", help="folder of the benchmark JSON files to read")
    parser.add_argument("--readme", default="README.md", help="README whose results block is rewritten")


# `minivdt bench NAME`: (help, description, argument adders, the "module:function"s it runs, in order).
# A new benchmark is one entry here, and its rerender in "report"; its module (under minivdt/apps/bench/, imported
# only when it runs; minivdt/apps/bench/__init__.py says what it holds) gets the parsed arguments.
BENCH_COMMANDS = {
    "quality": ("VDT vs baselines vs a SimVP CNN on the test split", None, (_add_common, _add_quality_args),
                ("minivdt.apps.bench.quality:main",)),
    "speed": ("training and sampling throughput and FLOP/s, naive vs fast attention, fp32 vs bf16", None,
              (_add_common, _add_speed_args), ("minivdt.apps.bench.speed:main",)),
    "recipe": ("training recipes trained for the same CPU budget, scored on val clips",
               "Train one cpu-tiny VDT per recipe arm (prediction type, timestep sampling, loss weighting, patch, "
               "attention, learning rate, batch, task mix) for the same process CPU seconds and seed; write the "
               "table, the learning curves and BENCHMARKS.md's recipe section.", (_add_common, _add_recipe_args),
               ("minivdt.apps.bench.recipe:main",)),
    "stochastic": ("forecasts of an uncertain future: energy score, Brier, spread-skill (lesson 9)",
                   "Score the VDT's samples, the equal-budget SimVP-CNN and the baselines on held-out clips of the "
                   "stochastic scenarios against many simulator futures of each clip.",
                   (_add_common, _add_stochastic_args), ("minivdt.apps.bench.stochastic:main",)),
    "sampler": ("which sampler and step count, chosen on validation clips",
                "Sample the VDT's forward predictions on validation clips with each candidate sampler and step "
                "count; the lowest mean position error is the choice.", (_add_common, _add_sampler_args),
                ("minivdt.apps.bench.sampler:main",)),
    "report": ("BENCHMARKS.md again from the benchmark JSON files, measuring nothing",
               "Render every benchmark's section of BENCHMARKS.md again from its JSON file in --out, then the page.",
               (_add_report_args,),
               ("minivdt.apps.bench.quality:rerender", "minivdt.apps.bench.recipe:rerender",
                "minivdt.apps.bench.conditioning:rerender", "minivdt.apps.bench.scaling:rerender",
                "minivdt.apps.bench.laptop_gpu:rerender", "minivdt.apps.bench.sampler:rerender",
                "minivdt.apps.bench.speed:rerender", "minivdt.apps.bench.stochastic:rerender",
                "minivdt.apps.bench.report:main")),
    "card": ("the model card and README's results and lesson-time tables, from the benchmark JSON files",
             "Write a model folder's README.md (model card) and README.md's results and lesson-time tables from its "
             "training.json and the benchmark JSON files: no number in them is typed by hand.", (_add_card_args,),
             ("minivdt.apps.bench.card:main",)),
    "conditioning": ("adaLN vs cross-attention vs concat for the same CPU budget (lesson 6)",
                     "Train one cpu-tiny VDT per conditioning mode with the bundled recipe for the same process CPU "
                     "seconds and seed (arms of the recipe study); write conditioning.json, which lesson 6 plots, "
                     "and BENCHMARKS.md's section.", (_add_common, _add_conditioning_args),
                     ("minivdt.apps.bench.conditioning:main",)),
    "scaling": ("quality against GFLOPs: five sizes, same recipe and steps (lesson 8)",
                "Train five VDT sizes (width, depth, patch size) with the bundled recipe for the same number of "
                "steps and seed; write scaling.json, which lesson 8 plots, and BENCHMARKS.md's section.",
                (_add_common, _add_scaling_args), ("minivdt.apps.bench.scaling:main",)),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minivdt", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data(sub)
    _add_train(sub)
    _add_export(sub)
    _add_sample(sub)
    _add_demo(sub)
    _add_eval(sub)
    _add_plot(sub)
    _add_bench(sub)
    return parser


def _run_data(args):
    from ..world import write_preview
    from ..world import WorldConfig

    config = WorldConfig(size=args.size, num_frames=args.frames)
    check_output("--out", args.out, "dir" if args.data_command == "preview" else "file")
    if args.data_command == "preview":
        for path in write_preview(args.out, seed=args.seed, config=config):
            print(path)
    else:
        from ..data import BallClips

        num_clips = args.num_clips if args.split == "train" else None
        dataset = BallClips(args.split, num_clips=num_clips, config=config, cache=args.out)
        print(f"wrote {len(dataset)} clips to {args.out}")


def _run_train(args):
    from ..training import make_train_config, train

    out = args.out if args.out is not None else f"runs/{args.preset}"
    overrides = {"out_dir": str(check_output("--out", out, "dir"))}
    for name, value in [("max_steps", args.steps), ("batch_size", args.batch_size), ("seed", args.seed),
                        ("checkpoint_every", args.checkpoint_every), ("log_every", args.log_every),
                        ("learning_rate", args.learning_rate)]:
        if value is not None:
            overrides[name] = value
    if args.minutes is not None:
        overrides["time_budget_s"] = 60 * args.minutes
    for name, value in (("world", args.world), ("scenarios", args.scenarios), ("data", args.data),
                        ("init_from", args.init_from)):
        if value is not None:
            if isinstance(value, str) and not value:
                raise ValueError(f"--{name.replace('_', '-')} must not be empty")
            overrides[name] = value
    if args.init_from is not None:
        from ..checkpoints import model_folder

        model_folder(args.init_from)  # an existing model folder, before any compute
    config = make_train_config(args.preset, **overrides)
    if args.cond_mode:
        config.model_overrides = {**config.model_overrides, "cond_mode": args.cond_mode}
    if args.data is not None:
        from ..training import user_clips

        user_clips(config)  # read (and check) the clips before any compute; the summary is printed by train
    result = train(config, resume=args.resume)
    print(f"trained to step {result.step} ({result.seconds:.0f} s in this session, {result.total_seconds:.0f} s in "
          f"all); checkpoint in {result.out_dir}/checkpoint")


def _not_empty(args, name: str):
    """An empty --NAME is an error, never the default (`--checkpoint ""` must not load the bundled model)."""
    if getattr(args, name) == "":
        raise ValueError(f"--{name.replace('_', '-')} must not be empty (leave it out for the default)")


def _run_export(args):
    from ..training import export_model

    if not args.run:
        raise ValueError("run must be a run folder, got ''")
    check_output("out", args.out, "dir")
    print(f"exported to {export_model(args.run, args.out)}")


def _run_sample(args):
    from ..checks import VIDEO_SUFFIXES
    from .demo import run_sample

    _not_empty(args, "checkpoint")
    check_output("--out", args.out, "file", VIDEO_SUFFIXES)
    run_sample(checkpoint=args.checkpoint, task=args.task, scenario=args.scenario, num_clips=args.num_clips,
               steps=args.steps, seed=args.seed, out=args.out, sampler=args.sampler, num_given=args.num_given)


def _run_demo(args):
    from .demo import run_demo

    _not_empty(args, "checkpoint")
    check_output("--out", args.out, "dir")
    run_demo(checkpoint=args.checkpoint, num_clips=args.num_clips, steps=args.steps, out_dir=args.out,
             sampler=args.sampler)


def _run_eval(args):
    from .evaluate import run_eval

    for name in ("checkpoint", "data"):
        if getattr(args, name) == "":
            raise ValueError(f"--{name} must not be empty" if name == "data" else "checkpoint must not be empty")
    check_output("--out", args.out, "dir")
    run_eval(checkpoint=args.checkpoint, world=args.world, scenarios=args.scenarios, data=args.data,
             num_clips=args.num_clips, out_dir=args.out, num_samples=args.samples, seed=args.seed)


def _run_plot(args):
    from .plot import plot_run

    print(f"wrote {plot_run(args.run, args.out)}")


def _run_bench(args):
    if args.bench_command != "card":  # card reads --out, the others write there
        check_output("--out", args.out, "dir")
        check_output("--md", args.md, "file")
    if args.bench_command == "quality" and args.cnn_run:  # quality writes it, stochastic reads it
        check_output("--cnn-run", args.cnn_run, "dir")
    if getattr(args, "device", None) is not None:
        from ..checks import check_device

        check_device("--device", args.device)
    for target in BENCH_COMMANDS[args.bench_command][3]:
        module, function = target.split(":")
        getattr(importlib.import_module(module), function)(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    runners = {"data": _run_data, "train": _run_train, "export": _run_export, "sample": _run_sample,
               "demo": _run_demo, "eval": _run_eval, "plot": _run_plot, "bench": _run_bench}
    try:
        runners[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's 128 + SIGINT
        if os.environ.get("MINIVDT_DEBUG"):
            raise
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not turn this into a traceback
        print(f"minivdt {args.command}: {_interrupted(args)}", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (every failure is one line; MINIVDT_DEBUG=1 shows the traceback)
        if os.environ.get("MINIVDT_DEBUG"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, OSError) and error.strerror:  # "No space left on device: 'x'", not "[Errno 28] ..."
            message = error.strerror + (f": {error.filename}" if error.filename else "")
            if error.errno == errno.ENOSPC:
                message += " (the disk is full: free some space and run the command again)"
        expected = (ValueError, TypeError, OSError, FloatingPointError, RuntimeError)
        if not isinstance(error, expected):  # most likely a bug: say what it was
            message = f"{type(error).__name__}: {message} (MINIVDT_DEBUG=1 shows the traceback)"
        print(f"minivdt {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, (ValueError, TypeError, OSError)) else 1
    return 0


def _interrupted(args) -> str:
    """What Ctrl-C left: a training keeps its last checkpoint (every save is atomic), which --resume continues."""
    if args.command != "train":
        return "interrupted"
    from ..checkpoints import CheckpointError, find_checkpoint

    run = args.out or f"runs/{args.preset}"
    try:
        found = find_checkpoint(run)
    except (CheckpointError, OSError):
        found = None
    if found is None:
        return f"interrupted before the first checkpoint of {run}"
    return (f"interrupted; the last checkpoint is kept in {found} (continue with `minivdt train --resume --out "
            f"{run}` and the same options)")


if __name__ == "__main__":
    sys.exit(main())
