"""Benchmarks — speed (`minivdt bench speed`): training and sampling throughput against a naive reference, achieved
FLOP/s against the measured matmul peak, peak memory of a training step, and step time against clip length with
factorised and joint attention."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from ...checks import check_device, check_int
from ...diffusion import DEFAULT_SAMPLER, make_scheduler, sample, training_loss
from ...masks import make_mask
from ...metrics import to_jsonable
from ...model import VDT, count_flops
from ...training import pick_device
from .common import QUICK_MODEL, md_stamp, md_table, publish, render_files, set_threads, stamp

SPEED_SIZES = ("cpu-tiny", "VDT-S/4")
FRAME_COUNTS = (8, 16, 32)
CPU_BATCHES = {"cpu-tiny": (8, 4), "VDT-S/4": (2, 1)}  # (train, sample) clips: the full run takes minutes on 2 cores
GPU_BATCHES = (32, 16)
# (name, runs the naive reference, bf16 autocast); the first is the reference every ratio divides by
VARIANTS = (("naive fp32", True, False), ("fast fp32", False, False), ("fast bf16", False, True))


def naive_reference(model: VDT) -> VDT:
    """The same architecture and weights with plain softmax attention (fused_attn=False); run it in fp32."""
    kwargs = {k: v for k, v in model.config.items() if not k.startswith("_")}
    reference = VDT(**{**kwargs, "fused_attn": False}).to(next(model.parameters()).device)
    reference.load_state_dict(model.state_dict())
    return reference


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _autocast(device, bf16):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def interleaved_medians(fns: dict, repeats: int, warmup: int = 1, device=torch.device("cpu")) -> dict:
    """Median seconds of each fn (no arguments), timed in alternation: repeat r runs every fn once, so slow
    phases of a shared machine hit all variants alike. -> {name: {"median_s", "times_s"}}."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: dict(median_s=statistics.median(t), times_s=[round(x, 5) for x in t]) for name, t in times.items()}


def _video_batch(cfg, batch, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(batch, cfg.num_frames, cfg.in_channels, cfg.height, cfg.width, generator=g) * 2 - 1
    mask = make_mask("predict", batch, cfg.num_frames, cfg.height, cfg.width, num_given=cfg.num_frames // 2,
                     patch_size=cfg.patch_size)
    return x0.to(device), mask.to(device)


def train_step_fn(model, optimizer, x0, mask, bf16=False):
    """One training step (masked diffusion loss forward + backward + AdamW step) as a no-argument function."""
    scheduler = make_scheduler("ddpm", prediction_type=model.config.prediction_type)
    device = x0.device

    def step():
        model.train()
        with _autocast(device, bf16):
            loss = training_loss(model, x0, mask, scheduler, generator=torch.Generator().manual_seed(0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def fresh_training_step(size, overrides: dict, batch: int, device, bf16: bool = False):
    """A new model of `size` (seed 0) and one of its training steps on a random batch: (model, no-argument step)."""
    torch.manual_seed(0)
    model = VDT.from_preset(size, **overrides).to(device)
    x0, mask = _video_batch(model.cfg, batch, device)
    return model, train_step_fn(model, torch.optim.AdamW(model.parameters(), lr=1e-4), x0, mask, bf16)


def sample_fn(model, x0, mask, steps, bf16=False):
    """Sampling (the default sampler) of the masked part of x0 with `steps` steps as a no-argument function."""
    scheduler = make_scheduler(DEFAULT_SAMPLER, prediction_type=model.config.prediction_type)

    def run():
        model.eval()
        with _autocast(x0.device, bf16):
            sample(model, x0, mask, scheduler, num_inference_steps=steps, generator=torch.Generator().manual_seed(0))

    return run


def matmul_peak(n=2048, repeats=5, device=torch.device("cpu")) -> dict:
    """Measured matmul FLOP/s of an n x n x n product in fp32 and bf16: the machine's practical peak."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        g = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=g).to(device, dtype) for _ in range(2))
        t = interleaved_medians({name: lambda: a @ b}, repeats, warmup=1, device=device)[name]["median_s"]
        out[name] = dict(n=n, median_s=t, flops_per_s=2 * n ** 3 / t)
    return out


def bench_throughput(size, overrides=None, train_batch=4, sample_batch=2, sample_steps=25, repeats=5,
                     sample_repeats=3, device=None, peaks=None) -> dict:
    """Training and sampling clips/s of one model size for each variant, with ratios against the naive fp32
    reference, and achieved FLOP/s of a training step as a fraction of the measured matmul peak."""
    device = torch.device(device or pick_device())
    torch.manual_seed(0)
    model = VDT.from_preset(size, **(overrides or {})).to(device)
    reference = naive_reference(model)
    cfg = model.cfg
    x0, mask = _video_batch(cfg, train_batch, device)
    train_fns, sample_fns = {}, {}
    optimizers = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (model, reference)}
    sx0, smask = _video_batch(cfg, sample_batch, device, seed=1)
    for name, naive, bf16 in VARIANTS:
        m = reference if naive else model
        train_fns[name] = train_step_fn(m, optimizers[id(m)], x0, mask, bf16)
        sample_fns[name] = sample_fn(m, sx0, smask, sample_steps, bf16)
    train = interleaved_medians(train_fns, repeats, warmup=1, device=device)
    for name, naive, bf16 in VARIANTS:  # a one-step warm-up of the no-grad kernels
        sample_fn(reference if naive else model, sx0, smask, 1, bf16)()
    sampling = interleaved_medians(sample_fns, sample_repeats, warmup=0, device=device)
    step_flops = 3 * count_flops(cfg, train_batch)  # forward + backward (~2x forward)
    rows = {}
    for name, naive, bf16 in VARIANTS:
        t_train, t_sample = train[name]["median_s"], sampling[name]["median_s"]
        achieved = step_flops / t_train
        peak = (peaks or {}).get("bf16" if bf16 else "fp32", {}).get("flops_per_s")
        rows[name] = dict(train_clips_per_s=train_batch / t_train, sample_clips_per_s=sample_batch / t_sample,
                          train_step_s=t_train, sample_s=t_sample, train_times_s=train[name]["times_s"],
                          sample_times_s=sampling[name]["times_s"], achieved_flops_per_s=achieved,
                          peak_dtype="bf16" if bf16 else "fp32", fraction_of_peak=achieved / peak if peak else None)
    ref = rows[VARIANTS[0][0]]
    for row in rows.values():
        row["train_speedup"] = row["train_clips_per_s"] / ref["train_clips_per_s"]
        row["sample_speedup"] = row["sample_clips_per_s"] / ref["sample_clips_per_s"]
    return dict(size=size, overrides=overrides or {}, parameters=sum(p.numel() for p in model.parameters()),
                num_frames=cfg.num_frames, tokens=cfg.num_frames * cfg.tokens_per_frame, train_batch=train_batch,
                sample_batch=sample_batch, sample_steps=sample_steps, repeats=repeats, sample_repeats=sample_repeats,
                train_step_flops=step_flops, variants=rows)


def bench_frames(size="cpu-tiny", overrides=None, frame_counts=FRAME_COUNTS, batch=4, repeats=3, device=None,
                 bf16=False) -> dict:
    """Training-step seconds for each frame count with factorised vs joint space-time attention (library fast
    path), all configurations timed in alternation. -> {"rows": [{frames, attention_mode, step_s, flops}]}."""
    device = torch.device(device or pick_device())
    fns, meta = {}, {}
    for frames in frame_counts:
        for mode in ("factorised", "joint"):
            key = f"{frames}/{mode}"
            model, fns[key] = fresh_training_step(
                size, {**(overrides or {}), "num_frames": frames, "attention_mode": mode}, batch, device, bf16)
            meta[key] = dict(frames=frames, attention_mode=mode, flops=3 * count_flops(model.cfg, batch))
    times = interleaved_medians(fns, repeats, warmup=1, device=device)
    rows = [dict(**meta[k], step_s=times[k]["median_s"], times_s=times[k]["times_s"]) for k in fns]
    return dict(size=size, overrides=overrides or {}, batch=batch, repeats=repeats, bf16=bf16, rows=rows)


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _memory_worker(size, overrides, batch, bf16, threads):
    """Runs in a fresh process: RSS growth of two training steps above the RSS just before them (KiB)."""
    torch.set_num_threads(threads)
    _, step = fresh_training_step(size, overrides, batch, torch.device("cpu"), bf16)
    before = _rss_kib("VmRSS")
    try:  # reset the high-water mark to the current RSS (Linux >= 4.0) so import-time peaks do not count
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    hwm_before = _rss_kib("VmHWM")
    for _ in range(2):  # the first step also allocates AdamW's state; the second is the steady state
        step()
    peak = _rss_kib("VmHWM")
    return dict(rss_before_kib=before, peak_kib=peak, hwm_reset=reset, peak_from_steps=reset or peak > hwm_before)


def peak_memory(size, overrides=None, batch=4, bf16=False, device=None) -> dict:
    """Peak memory of a training step. CUDA: torch.cuda.max_memory_allocated growth over the weights. CPU: in a
    fresh subprocess, the peak resident set (VmHWM, reset before the steps) minus the RSS before the first step:
    activations, gradients, AdamW state, allocator and oneDNN scratch, but not the weights or the libraries."""
    device = torch.device(device or pick_device())
    overrides = overrides or {}
    if device.type == "cuda":
        _, step = fresh_training_step(size, overrides, batch, device, bf16)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step(), step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        return dict(size=size, batch=batch, bf16=bf16, method="torch.cuda.max_memory_allocated - allocated before",
                    step_peak_mib=(peak - before) / 2 ** 20)
    if not Path("/proc/self/status").exists():
        return dict(size=size, batch=batch, bf16=bf16, method="unavailable (needs Linux /proc)", step_peak_mib=None)
    code = ("import json, sys; from minivdt.apps.bench.speed import _memory_worker; "
            "print(json.dumps(_memory_worker(*json.loads(sys.argv[1]))))")
    arg = json.dumps([size, overrides, batch, bf16, torch.get_num_threads()])
    out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"memory subprocess for {size} failed:\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(size=size, batch=batch, bf16=bf16, method="subprocess VmHWM (reset) - VmRSS before 2 steps",
                step_peak_mib=(r["peak_kib"] - r["rss_before_kib"]) / 1024, rss_before_mib=r["rss_before_kib"] / 1024,
                peak_from_steps=r["peak_from_steps"])


def bench_threads(size="cpu-tiny", batch=16, repeats=5, overrides=None) -> dict:
    """The bundled model's training step (its size, x_0 target, batch 16) at 1 torch thread and at every core, in
    fp32 and with bf16 autocast: which settings the CPU training run should use. Medians of interleaved repeats."""
    before = torch.get_num_threads()
    rows = []
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            steps = {name: fresh_training_step(size, {"prediction_type": "sample", **(overrides or {})}, batch,
                                               torch.device("cpu"), bf16)[1]
                     for name, bf16 in (("fp32", False), ("bf16", True))}
            times = interleaved_medians(steps, repeats, warmup=1)
            rows.append(dict(threads=threads, fp32_step_s=times["fp32"]["median_s"],
                             bf16_step_s=times["bf16"]["median_s"]))
    finally:
        torch.set_num_threads(before)
    return dict(size=size, batch=batch, repeats=repeats, rows=rows)


def bench_speed(sizes=SPEED_SIZES, quick=False, device=None, train_batch=None, sample_batch=None, repeats=None,
                sample_steps=25, frame_counts=FRAME_COUNTS, memory=True, progress=print) -> dict:
    """All speed measurements in one run: matmul peaks, per-size throughput (naive vs fast fp32 vs fast bf16),
    peak training-step memory, and frames x attention-mode step times."""
    device = check_device("device", device) or pick_device()
    for name, value in (("train_batch", train_batch), ("sample_batch", sample_batch), ("repeats", repeats),
                        ("sample_steps", sample_steps)):
        if value is not None:
            check_int(name, value, 1)
    overrides = QUICK_MODEL if quick else {}
    repeats = repeats or (2 if quick else 5)
    sample_steps = 2 if quick else sample_steps

    progress(f"speed: measuring the matmul peak on {device}")
    matmul_size = 256 if quick else (2048 if device.type == "cpu" else 8192)
    peaks = matmul_peak(matmul_size, repeats=2 if quick else 5, device=device)
    sizes_out, memory_out = [], []
    for size in sizes:
        default = (2, 1) if quick else CPU_BATCHES.get(size, (4, 2)) if device.type == "cpu" else GPU_BATCHES
        tb, sb = train_batch or default[0], sample_batch or default[1]
        progress(f"speed: {size}: training batch {tb}, sampling batch {sb} x {sample_steps} steps, {repeats} repeats")
        sizes_out.append(bench_throughput(size, overrides, tb, sb, sample_steps, repeats,
                                          sample_repeats=1 if quick else 3, device=device, peaks=peaks))
        if memory and (not quick or size == sizes[0]):  # quick: one subprocess (~3 s of imports) is enough
            for bf16 in (False,) if quick else (False, True):
                memory_out.append(peak_memory(size, overrides, tb, bf16=bf16, device=device))
    progress(f"speed: frames {frame_counts if not quick else (8, 16)} x factorised/joint")
    frames = bench_frames("cpu-tiny", overrides, frame_counts=(8, 16) if quick else frame_counts,
                          batch=2 if quick else 4, repeats=repeats if quick else 3, device=device)
    thread_rows = None
    if device.type == "cpu":
        progress("speed: the bundled model's training step at 1 thread and at every core, fp32 and bf16")
        thread_rows = bench_threads(overrides=overrides, batch=2 if quick else 16, repeats=2 if quick else 5)
    return to_jsonable(dict(section="speed", quick=quick, device=str(device), threads=torch.get_num_threads(),
                            sampler=DEFAULT_SAMPLER, matmul_peak=peaks, sizes=sizes_out, memory=memory_out,
                            frames=frames, cpu_threads=thread_rows, **stamp()))


def _steps_per_core(row: dict) -> float:
    """fp32 training steps per second per core of one bench_threads row."""
    return 1 / (row["fp32_step_s"] * row["threads"])


def speed_verdict(threads: dict, simd: str | None = None) -> list[str]:
    """What the thread/precision table says for the CPU training run, computed from it."""
    rows = threads["rows"]
    per_core = {r["threads"]: _steps_per_core(r) for r in rows}
    best = max(per_core, key=per_core.get)
    slower = min(r["bf16_step_s"] / r["fp32_step_s"] for r in rows)
    lines = [f"- Most fp32 steps per core: **{best} thread(s)** per run ({per_core[best]:.2f} steps/s per core"
             + ", ".join([""] + [f"{n} threads: {v:.2f}" for n, v in per_core.items() if n != best]) + ")."]
    if slower > 1:
        lines.append(f"- bf16 autocast is at least {slower:.1f}x slower than fp32 here"
                     + (f" ({simd}: no bf16 matrix units, so torch emulates bf16)" if simd else "")
                     + "; `mixed_precision=\"auto\"` picks bf16 on a CPU only where `training.cpu_has_bf16()` is true.")
    return lines


def render(s: dict, page) -> str:
    """BENCHMARKS.md's speed section."""
    lines = ["## Speed", ""] + md_stamp(s)
    lines += ["Medians of interleaved repeats after a warm-up. *naive fp32* is the same architecture and weights "
              "with plain softmax attention (`fused_attn=False`) in fp32; *fast* uses "
              "`F.scaled_dot_product_attention`, with or without bf16 autocast. A training step is the masked "
              f"diffusion loss forward + backward + AdamW step; sampling is {s['sampler'].upper()} with "
              f"{s['sizes'][0]['sample_steps'] if s['sizes'] else '?'} steps. FLOP/s counts 3x the analytic "
              "forward FLOPs (`model.count_flops`, matmuls only), divided by the measured matmul peak of the "
              "dtype used.", ""]
    lines += ["Measured matmul peak: " + ", ".join(f"{k} {v['flops_per_s'] / 1e9:.1f} GFLOP/s (n={v['n']})"
                                                 for k, v in s["matmul_peak"].items()) + ".", ""]
    rows = [[z["size"], f"{z['parameters'] / 1e6:.2f} M", name, z["train_batch"], f"{r['train_clips_per_s']:.3f}",
             f"{r['train_speedup']:.2f}x", z["sample_batch"], f"{r['sample_clips_per_s']:.4f}",
             f"{r['sample_speedup']:.2f}x", f"{r['achieved_flops_per_s'] / 1e9:.1f}",
             "" if r["fraction_of_peak"] is None else f"{r['fraction_of_peak']:.0%} of {r['peak_dtype']}"]
            for z in s["sizes"] for name, r in z["variants"].items()]
    lines += md_table(["size", "params", "variant", "train batch", "train clips/s", "vs naive", "sample batch",
                       "sample clips/s", "vs naive", "train GFLOP/s", "of peak"], rows) + [""]
    if s["memory"]:
        lines += [f"Peak memory of a training step (two steps from a fresh optimizer; {s['memory'][0]['method']}):", ""]
        lines += md_table(["size", "dtype", "batch", "peak MiB"],
                          [[m["size"], "bf16 autocast" if m["bf16"] else "fp32", m["batch"],
                            "n/a" if m["step_peak_mib"] is None else f"{m['step_peak_mib']:.0f}"]
                           for m in s["memory"]]) + [""]
    t = s.get("cpu_threads")
    if t:
        lines += [f"The bundled model's training step ({t['size']}, x₀ target, batch {t['batch']}) by torch threads "
                  "and precision (medians of interleaved repeats); the last column is training steps per second "
                  "per core, which decides whether one run should use every core or each core should run its "
                  "own one-thread job:", ""]
        lines += md_table(["threads", "fp32 s/step", "bf16 autocast s/step", "bf16 / fp32", "fp32 steps/s per core"],
                          [[r["threads"], f"{r['fp32_step_s']:.3f}", f"{r['bf16_step_s']:.3f}",
                            f"{r['bf16_step_s'] / r['fp32_step_s']:.1f}x", f"{_steps_per_core(r):.2f}"]
                           for r in t["rows"]]) + [""]
        lines += speed_verdict(t, s["machine"].get("simd")) + [""]
    f = s["frames"]
    lines += [f"Training-step time vs clip length, {f['size']} fast path fp32, batch {f['batch']}:", ""]
    lines += md_table(["frames", "attention", "step s", "GFLOP"],
                      [[r["frames"], r["attention_mode"], f"{r['step_s']:.3f}", f"{r['flops'] / 1e9:.1f}"]
                       for r in f["rows"]]) + [""]
    return "\n".join(lines)


def main(args) -> dict:
    """`minivdt bench speed`."""
    set_threads(args)
    s = bench_speed(sizes=tuple(args.sizes or SPEED_SIZES), quick=args.quick, device=args.device,
                    train_batch=args.batch_size, sample_batch=args.sample_batch_size, repeats=args.repeats,
                    memory=not args.no_memory)
    return publish("speed", s, render, args)


def rerender(args):
    """`minivdt bench report`: the section again from speed.json."""
    render_files(("speed",), render, args)
