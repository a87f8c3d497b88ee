"""Benchmarks — speed (`minivdt bench speed`): training and sampling throughput of each model size against a naive
reference, in fp32 and bf16 autocast, and achieved FLOP/s against the measured matmul peak. (How factorised and joint
attention scale with the number of frames is measured in lesson 3.)"""

from __future__ import annotations

import contextlib
import statistics
import time

import torch

from ...diffusion import DEFAULT_SAMPLER, sample, scheduler_for, training_loss
from ...masks import make_mask
from ...metrics import to_jsonable
from ...model import VDT, count_flops
from ...training import pick_device
from .common import QUICK_MODEL, md_stamp, md_table, publish, render_files, set_threads, stamp

SPEED_SIZES = ("cpu-tiny", "VDT-S/4")
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


def _train_step(model, optimizer, x0, mask, bf16):
    """One training step (masked diffusion loss forward + backward + AdamW step) as a no-argument function."""
    scheduler = scheduler_for(model, "ddpm")

    def step():
        model.train()
        with _autocast(x0.device, bf16):
            loss = training_loss(model, x0, mask, scheduler, generator=torch.Generator().manual_seed(0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def _sampling(model, x0, mask, steps, bf16):
    """Sampling (the default sampler) of the masked part of x0 with `steps` steps as a no-argument function."""
    scheduler = scheduler_for(model)

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
        t = interleaved_medians({name: lambda: a @ b}, repeats, device=device)[name]["median_s"]
        out[name] = dict(n=n, median_s=t, flops_per_s=2 * n ** 3 / t)
    return out


def bench_throughput(size, overrides, train_batch, sample_batch, sample_steps, repeats, sample_repeats, device,
                     peaks) -> dict:
    """Training and sampling clips/s of one model size for each variant, with ratios against the naive fp32
    reference, and achieved FLOP/s of a training step as a fraction of the measured matmul peak."""
    torch.manual_seed(0)
    model = VDT.from_preset(size, **overrides).to(device)
    models = {True: naive_reference(model), False: model}  # naive -> the model a variant runs
    optimizers = {naive: torch.optim.AdamW(m.parameters(), lr=1e-4) for naive, m in models.items()}
    cfg = model.cfg
    (x0, mask), (sx0, smask) = _video_batch(cfg, train_batch, device), _video_batch(cfg, sample_batch, device, seed=1)
    train = interleaved_medians({name: _train_step(models[naive], optimizers[naive], x0, mask, bf16)
                                 for name, naive, bf16 in VARIANTS}, repeats, device=device)
    for name, naive, bf16 in VARIANTS:  # a one-step warm-up of the no-grad kernels
        _sampling(models[naive], sx0, smask, 1, bf16)()
    sampling = interleaved_medians({name: _sampling(models[naive], sx0, smask, sample_steps, bf16)
                                    for name, naive, bf16 in VARIANTS}, sample_repeats, warmup=0, device=device)
    step_flops = 3 * count_flops(cfg, train_batch)  # forward + backward (~2x forward)
    rows = {}
    for name, naive, bf16 in VARIANTS:
        t_train, t_sample = train[name]["median_s"], sampling[name]["median_s"]
        dtype = "bf16" if bf16 else "fp32"
        rows[name] = dict(train_clips_per_s=train_batch / t_train, sample_clips_per_s=sample_batch / t_sample,
                          train_step_s=t_train, sample_s=t_sample, train_times_s=train[name]["times_s"],
                          sample_times_s=sampling[name]["times_s"], achieved_flops_per_s=step_flops / t_train,
                          peak_dtype=dtype, fraction_of_peak=step_flops / t_train / peaks[dtype]["flops_per_s"])
    ref = rows[VARIANTS[0][0]]
    for row in rows.values():
        row["train_speedup"] = row["train_clips_per_s"] / ref["train_clips_per_s"]
        row["sample_speedup"] = row["sample_clips_per_s"] / ref["sample_clips_per_s"]
    return dict(size=size, overrides=overrides, parameters=sum(p.numel() for p in model.parameters()),
                num_frames=cfg.num_frames, tokens=cfg.num_frames * cfg.tokens_per_frame, train_batch=train_batch,
                sample_batch=sample_batch, sample_steps=sample_steps, repeats=repeats, sample_repeats=sample_repeats,
                train_step_flops=step_flops, variants=rows)


def bench_speed(sizes=SPEED_SIZES, quick=False, device=None, sample_steps=25) -> dict:
    """The matmul peaks, then each size's throughput (naive vs fast fp32 vs fast bf16)."""
    device = torch.device(device or pick_device())
    repeats, sample_steps = (2, 2) if quick else (5, sample_steps)
    peaks = matmul_peak(256 if quick else 2048 if device.type == "cpu" else 8192, repeats, device)
    sizes_out = []
    for size in sizes:
        print(f"speed: {size} on {device}", flush=True)
        batches = (2, 1) if quick else CPU_BATCHES.get(size, (4, 2)) if device.type == "cpu" else GPU_BATCHES
        sizes_out.append(bench_throughput(size, QUICK_MODEL if quick else {}, *batches, sample_steps, repeats,
                                          1 if quick else 3, device, peaks))
    return to_jsonable(dict(section="speed", quick=quick, device=str(device), threads=torch.get_num_threads(),
                            sampler=DEFAULT_SAMPLER, matmul_peak=peaks, sizes=sizes_out, **stamp()))


def render(s: dict, page) -> str:
    """BENCHMARKS.md's speed section."""
    lines = ["## Speed", ""] + md_stamp(s)
    lines += ["Medians of interleaved repeats after a warm-up. *naive fp32* is the same architecture and weights "
              "with plain softmax attention (`fused_attn=False`) in fp32; *fast* uses "
              "`F.scaled_dot_product_attention`, with or without bf16 autocast. A training step is the masked "
              f"diffusion loss forward + backward + AdamW step; sampling is {s['sampler'].upper()} with "
              f"{s['sizes'][0]['sample_steps'] if s['sizes'] else '?'} steps. FLOP/s counts 3x the analytic "
              "forward FLOPs (`model.count_flops`, matmuls only), divided by the measured matmul peak of the "
              "dtype used (fp32's where bf16 is emulated, slower than fp32).", ""]
    lines += ["Measured matmul peak: " + ", ".join(f"{k} {v['flops_per_s'] / 1e9:.1f} GFLOP/s (n={v['n']})"
                                                 for k, v in s["matmul_peak"].items()) + ".", ""]
    peaks = {k: v["flops_per_s"] for k, v in s["matmul_peak"].items()}

    def of_peak(r):  # a bf16 peak below fp32's is emulated bf16 (no bf16 units): the machine's peak is then fp32's
        if r["fraction_of_peak"] is None:
            return ""
        dtype = r["peak_dtype"] if peaks.get(r["peak_dtype"], 0) >= peaks.get("fp32", 0) else "fp32"
        return f"{r['achieved_flops_per_s'] / peaks[dtype]:.0%} of {dtype}"

    rows = [[z["size"], f"{z['parameters'] / 1e6:.2f} M", name, z["train_batch"], f"{r['train_clips_per_s']:.3f}",
             f"{r['train_speedup']:.2f}x", z["sample_batch"], f"{r['sample_clips_per_s']:.4f}",
             f"{r['sample_speedup']:.2f}x", f"{r['achieved_flops_per_s'] / 1e9:.1f}", of_peak(r)]
            for z in s["sizes"] for name, r in z["variants"].items()]
    lines += md_table(["size", "params", "variant", "train batch", "train clips/s", "vs naive", "sample batch",
                       "sample clips/s", "vs naive", "train GFLOP/s", "of peak"], rows) + [""]
    return "\n".join(lines)


def main(args) -> dict:
    """`minivdt bench speed`."""
    set_threads(args)
    s = bench_speed(tuple(args.sizes or SPEED_SIZES), args.quick, args.device)
    return publish("speed", s, render, args)


def rerender(args):
    """`minivdt bench report`: the section again from speed.json."""
    render_files(("speed",), render, args)
