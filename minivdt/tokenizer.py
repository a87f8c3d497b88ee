"""Optional latent tokenizer: a tiny diffusers AutoencoderKL, so VDT can run on latents as in the paper.

The paper's pipeline is video -> per-frame VAE latents -> patches -> VDT. Here the VAE is small and trained
on the bouncing-ball frames themselves (seconds to minutes on a CPU); each frame is encoded on its own,
so a (B, F, 3, H, W) video becomes (B, F, c, H/s, W/s) latents with s = 2 ** (len(block_out_channels) - 1).
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as nnf
from diffusers import AutoencoderKL
from einops import rearrange

from .data import to_tensor
from .progress import progress_bar
from .world import ClipBatch

SCALE_SAMPLE_FRAMES = 256  # frames whose latents set the data-derived scaling_factor (1 / std)


# --------------------------------------------------------------------------------------------------
#                                        Building the tokenizer
# --------------------------------------------------------------------------------------------------


def make_tokenizer(latent_channels: int = 4, block_out_channels: tuple[int, ...] = (32, 64), layers_per_block: int = 1,
                   norm_num_groups: int = 8, image_size: int = 32, in_channels: int = 3) -> AutoencoderKL:
    """A tiny AutoencoderKL; every block after the first halves H and W, so the default 2 blocks downsample 2x
    (32 x 32 x 3 pixels -> 16 x 16 x 4 latents)."""
    block_out_channels = tuple(block_out_channels)
    if not block_out_channels or not all(isinstance(c, int) and c > 0 for c in block_out_channels):
        raise ValueError(f"block_out_channels must be a non-empty tuple of positive ints, got {block_out_channels!r}")
    bad = [c for c in block_out_channels if c % norm_num_groups]
    if bad:
        raise ValueError(f"norm_num_groups ({norm_num_groups}) must divide every block_out_channels entry, "
                         f"got {block_out_channels}")
    if not isinstance(latent_channels, int) or latent_channels < 1:
        raise ValueError(f"latent_channels must be a positive int, got {latent_channels!r}")
    num_blocks = len(block_out_channels)
    return AutoencoderKL(
        in_channels=in_channels, out_channels=in_channels, latent_channels=latent_channels,
        block_out_channels=block_out_channels, layers_per_block=layers_per_block, norm_num_groups=norm_num_groups,
        # at tiny sizes diffusers needs one block type per entry of block_out_channels
        down_block_types=("DownEncoderBlock2D",) * num_blocks, up_block_types=("UpDecoderBlock2D",) * num_blocks,
        sample_size=image_size,
    )


def _factor(block_out_channels) -> int:
    return 2 ** (len(block_out_channels) - 1)


def downsample_factor(vae: AutoencoderKL) -> int:
    """Pixels per latent cell along H (and W): 2 ** (number of blocks - 1)."""
    return _factor(vae.config.block_out_channels)


def _check_folder(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"tokenizer {str(path)!r} has no config.json: expected a folder written by "
                                "save_tokenizer / AutoencoderKL.save_pretrained")
    return path


@functools.lru_cache(maxsize=8)  # make_batch asks every training step
def latent_geometry(path: str | os.PathLike) -> tuple[int, int]:
    """(latent_channels, downsample_factor) of a saved tokenizer, read from its config.json (no weights loaded)."""
    path = _check_folder(path)
    try:
        config = AutoencoderKL.load_config(path, local_files_only=True)
        return config["latent_channels"], _factor(config["block_out_channels"])
    except Exception as error:
        raise ValueError(f"tokenizer {str(path)!r} has a corrupt config.json: {error}") from error


# --------------------------------------------------------------------------------------------------
#                                     Videos <-> latents, frame by frame
# --------------------------------------------------------------------------------------------------


def _check_video(name: str, video, channels: int, factor: int = 1):
    if not torch.is_tensor(video) or video.ndim != 5 or video.shape[2] != channels:
        got = tuple(video.shape) if torch.is_tensor(video) else type(video).__name__
        raise ValueError(f"{name} must be a tensor of shape (B, F, {channels}, H, W), got {got}")
    if video.shape[-2] % factor or video.shape[-1] % factor:
        raise ValueError(f"{name} height and width must be divisible by {factor} (the tokenizer's downsampling), "
                         f"got {tuple(video.shape[-2:])}")


@torch.no_grad()
def encode_video(vae: AutoencoderKL, video: torch.Tensor, sample: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Video (B, F, C, H, W) in [-1, 1] -> scaled latents (B, F, c, H/s, W/s): the posterior mean, or a sample."""
    _check_video("video", video, vae.config.in_channels, downsample_factor(vae))
    B = video.shape[0]
    frames = rearrange(video, "b f c h w -> (b f) c h w").to(vae.device, vae.dtype)
    posterior = vae.encode(frames).latent_dist
    latents = posterior.sample(generator) if sample else posterior.mode()  # ((B F), c, h, w)
    return rearrange(latents * vae.config.scaling_factor, "(b f) c h w -> b f c h w", b=B)


@torch.no_grad()
def decode_video(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents (B, F, c, h, w) -> video (B, F, C, h*s, w*s), roughly in [-1, 1] (not clamped)."""
    _check_video("latents", latents, vae.config.latent_channels)
    B = latents.shape[0]
    z = rearrange(latents, "b f c h w -> (b f) c h w").to(vae.device, vae.dtype) / vae.config.scaling_factor
    return rearrange(vae.decode(z).sample, "(b f) c h w -> b f c h w", b=B)


def downsample_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel mask (B, F, 1, H, W) -> latent mask (B, F, 1, H/s, W/s) by max-pooling: a latent cell is generated
    if any of its pixels is."""
    _check_video("mask", mask, 1, factor)
    B = mask.shape[0]
    pooled = nnf.max_pool2d(rearrange(mask, "b f c h w -> (b f) c h w"), factor)
    return rearrange(pooled, "(b f) c h w -> b f c h w", b=B)


# --------------------------------------------------------------------------------------------------
#                                              Training
# --------------------------------------------------------------------------------------------------


def _frames_of(videos) -> torch.Tensor:
    """uint8 frames (..., H, W, 3) (a video set, a clip or a ClipBatch) -> one flat uint8 tensor (M, H, W, 3)."""
    if isinstance(videos, ClipBatch):
        videos = videos.frames
    frames = torch.as_tensor(np.asarray(videos)) if not torch.is_tensor(videos) else videos
    if frames.dtype != torch.uint8:
        raise TypeError(f"videos must be uint8 frames, got {frames.dtype}")
    if frames.ndim < 3 or frames.shape[-1] != 3 or frames.numel() == 0:
        raise ValueError(f"videos must have shape (N, F, H, W, 3) or (N, H, W, 3), got {tuple(frames.shape)}")
    return frames.reshape(-1, *frames.shape[-3:])


def _latent_std(vae: AutoencoderKL, frames: torch.Tensor) -> float:
    """Std of the unscaled posterior means over up to SCALE_SAMPLE_FRAMES evenly spaced frames."""
    index = torch.linspace(0, len(frames) - 1, min(len(frames), SCALE_SAMPLE_FRAMES)).long()
    with torch.no_grad():
        x = rearrange(to_tensor(frames[index][:, None]), "n 1 c h w -> n c h w")
        return vae.encode(x.to(vae.device)).latent_dist.mode().std().item()


def train_tokenizer(videos, steps: int = 500, batch_size: int = 32, lr: float = 1e-3, kl_weight: float = 1e-6,
                    seed: int = 0, progress: bool = True, vae: AutoencoderKL | None = None,
                    cpu_budget_s: float | None = None, **tokenizer_kwargs) -> tuple[AutoencoderKL, dict]:
    """Train a tokenizer on uint8 frames (N, F, H, W, 3), (N, H, W, 3) or a world ClipBatch.

    A new make_tokenizer(**tokenizer_kwargs) seeded by `seed` is trained unless `vae` is given (trained further).
    Loss = reconstruction MSE (pixels in [-1, 1]) + kl_weight * KL(q(z|x) || N(0, I)) per latent element. Returns
    the trained vae, in eval mode with a data-derived config.scaling_factor (1 / std of its latents), and the
    history {"mse": [...], "kl": [...]} of each step's batch, measured before that step's update. Step s draws its
    frames from np.random.default_rng([seed, s]), so a run is a pure function of its arguments. With cpu_budget_s
    training also stops once this process has used that many CPU seconds in it (the recipe study's budget).
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    frames = _frames_of(videos)
    # Tiny Adam moments can underflow into denormal floats, which x86 CPUs handle very slowly (see training.py).
    torch.set_flush_denormal(True)
    if vae is None:
        torch.manual_seed(seed)  # weight initialisation
        vae = make_tokenizer(**{"image_size": frames.shape[1], **tokenizer_kwargs})
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr)
    history = {"mse": [], "kl": []}
    vae.train()
    cpu_start = time.process_time()
    for step in progress_bar(range(steps), disable=not progress, desc="tokenizer"):
        if cpu_budget_s is not None and time.process_time() - cpu_start >= cpu_budget_s:
            break
        rng = np.random.default_rng([seed, step])
        index = rng.choice(len(frames), size=batch_size, replace=len(frames) < batch_size)
        x = rearrange(to_tensor(frames[index][:, None]), "n 1 c h w -> n c h w").to(vae.device)  # (n, C, H, W)
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        posterior = vae.encode(x).latent_dist
        # z = μ + σ ε: the reparameterised sample the decoder must reconstruct from
        z = posterior.sample(generator)
        mse = nnf.mse_loss(vae.decode(z).sample, x)
        # KL(N(μ, σ²) || N(0, 1)) = ½ Σ (μ² + σ² - 1 - log σ²), averaged per latent element
        kl = posterior.kl().mean() / z[0].numel()
        loss = mse + kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["mse"].append(mse.item())
        history["kl"].append(kl.item())
    vae.eval()
    # Scale latents to unit variance so the diffusion noise schedule suits them (SD's 0.18215, measured here).
    vae.register_to_config(scaling_factor=1.0 / max(_latent_std(vae, frames), 1e-6))
    return vae, history


# --------------------------------------------------------------------------------------------------
#                                          Saving and loading
# --------------------------------------------------------------------------------------------------


def save_tokenizer(vae: AutoencoderKL, path: str | os.PathLike) -> Path:
    """Write a save_pretrained folder (config.json with scaling_factor + safetensors weights)."""
    vae.save_pretrained(path)
    return Path(path)


def load_tokenizer(path: str | os.PathLike, device: str | torch.device = "cpu") -> AutoencoderKL:
    """Load a tokenizer folder written by save_tokenizer (local folders only), with a clear error if broken."""
    path = _check_folder(path)
    try:
        # safetensors only: a pickled .bin in the folder is never loaded
        vae = AutoencoderKL.from_pretrained(path, low_cpu_mem_usage=False, local_files_only=True, use_safetensors=True)
    except Exception as error:  # safetensors/json/shape errors all mean the same thing to a user
        raise ValueError(f"tokenizer {str(path)!r} is corrupt or does not match its config.json: "
                         f"{' '.join(str(error).split())[:300]}") from None
    return vae.to(device).eval()
