"""Lesson 5 — notebooks/05_vdt_block.ipynb (conditioning modes: lesson 6 — notebooks/06_conditioning.ipynb).
VDT: a DiT-style video diffusion transformer with factorised (temporal -> spatial) attention and mask-modeling
conditioning. Read bottom-up: helpers -> embedders -> block -> final layer -> config -> model -> FLOP counting.
Follows DiT's models.py; names match the official VDT code (blocks.i.attn / temporal_attn / mlp / adaLN_modulation)."""

import dataclasses
import math
from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from einops import rearrange
from torch import nn

from .attention import (Attention, CrossAttention, attention_flops, joint_attention, spatial_attention,
                        temporal_attention)
from .diffusion import DEFAULT_PREDICTION_TYPE, PREDICTION_TYPES
from .tokens import PatchEmbed, get_1d_sincos_temp_embed, get_2d_sincos_pos_embed, patchify, unpatchify

COND_MODES = ("concat", "adaln", "cross_attn")
ATTENTION_MODES = ("factorised", "joint")
# adaLN_modulation outputs per block: shift, scale and gate for each branch (temporal, spatial, MLP; or joint, MLP)
ADALN_CHUNKS = {"factorised": 9, "joint": 6}
FREQUENCY_EMBEDDING_SIZE = 256  # sinusoidal features of a timestep, before the embedder's MLP (DiT)


def modulate(x, shift, scale):
    return x * (1 + scale) + shift


# --------------------------------------------------------------------------------------------------
#                                    Embedding layers for timesteps
# --------------------------------------------------------------------------------------------------


class TimestepEmbedder(nn.Module):
    """Embeds scalar diffusion timesteps (B,) into vectors (B, D): sinusoidal features -> MLP (DiT)."""

    def __init__(self, hidden_size, frequency_embedding_size=FREQUENCY_EMBEDDING_SIZE):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size)
        )

    @staticmethod
    def timestep_embedding(timesteps, dim, max_period=10000):
        """(B,) possibly fractional timesteps -> (B, dim) [cos, sin] features with periods up to max_period."""
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=timesteps.device) / half)  # (dim/2,)
        args = timesteps[:, None].float() * freqs[None]  # (B, dim/2)
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)

    def forward(self, timesteps):
        return self.mlp(self.timestep_embedding(timesteps, self.frequency_embedding_size))  # (B, D)


# --------------------------------------------------------------------------------------------------
#                                           Core VDT block
# --------------------------------------------------------------------------------------------------


class Mlp(nn.Module):
    """Token-wise feed-forward network, timm names (fc1, fc2)."""

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class VDTBlock(nn.Module):
    """Temporal attention -> spatial attention -> (cross-attention) -> MLP on (B, F, N, D), each branch pre-norm and
    modulated by adaLN-Zero (shift, scale, gate from the conditioning vector c).

    The official VDT block has no adaLN on its temporal branch and does not zero-init it, so at init that branch
    is not the identity; here every branch gets its own shift/scale/gate (9 chunks) and all gates start at zero,
    so every block is exactly the identity at init, as in DiT.
    attention_mode="joint" replaces temporal + spatial by ONE attention over all F*N tokens (6 chunks): simpler,
    strictly more expressive, but O((F N)^2) instead of O(F N^2 + N F^2)."""

    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0, attention_mode="factorised", cross_attn=False,
                 fused_attn=True):
        super().__init__()
        self.factorised = attention_mode == "factorised"
        if self.factorised:
            self.temporal_norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
            self.temporal_attn = Attention(hidden_size, num_heads, qkv_bias=True, fused=fused_attn)
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads, qkv_bias=True, fused=fused_attn)  # spatial (or joint)
        self.cross_attn = None
        if cross_attn:  # PixArt-style: plain pre-norm residual, its output projection zero-initialised
            self.cross_norm = nn.LayerNorm(hidden_size, eps=1e-6)
            self.cross_attn = CrossAttention(hidden_size, num_heads, qkv_bias=True, fused=fused_attn)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.num_chunks = ADALN_CHUNKS[attention_mode]
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, self.num_chunks * hidden_size))

    def forward(self, x, c, context=None):
        # x (B, F, N, D); c (B, D); context (B, S, D) or None
        chunks = self.adaLN_modulation(c)[:, None, None].chunk(self.num_chunks, dim=-1)  # each (B, 1, 1, D)
        if self.factorised:
            shift_tmsa, scale_tmsa, gate_tmsa, *chunks = chunks
            x = x + gate_tmsa * temporal_attention(self.temporal_attn,
                                                   modulate(self.temporal_norm(x), shift_tmsa, scale_tmsa))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = chunks
        attend = spatial_attention if self.factorised else joint_attention
        x = x + gate_msa * attend(self.attn, modulate(self.norm1(x), shift_msa, scale_msa))  # (B, F, N, D)
        if self.cross_attn is not None:
            y = self.cross_attn(rearrange(self.cross_norm(x), "b f n d -> b (f n) d"), context)  # (B, F*N, D)
            x = x + rearrange(y, "b (f n) d -> b f n d", f=x.shape[1])
        x = x + gate_mlp * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))  # (B, F, N, D)
        return x


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm + Linear back to p*p*C values per token (DiT, zero-initialised)."""

    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c)[:, None, None].chunk(2, dim=-1)  # each (B, 1, 1, D)
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (B, F, N, p*p*C)


# --------------------------------------------------------------------------------------------------
#                                           Configs / presets
# --------------------------------------------------------------------------------------------------


@dataclass
class VDTConfig:
    input_size: int | tuple = 32  # frame size H = W, or (H, W); pixels (or latent cells)
    patch_size: int = 4  # p: each token is a p x p patch; N = (H/p)(W/p) tokens per frame
    in_channels: int = 3  # C: 3 for RGB pixels, 4 for SD-VAE latents
    num_frames: int = 16  # F: fixed clip length (temporal embedding size)
    hidden_size: int = 128  # D: model width; divisible by num_heads and by 4 (2-D sin-cos)
    depth: int = 4  # number of VDT blocks
    num_heads: int = 4
    mlp_ratio: float = 4.0
    cond_mode: str = "concat"  # how given frames/pixels reach the model, see VDT.forward
    attention_mode: str = "factorised"  # "factorised" temporal->spatial (VDT) or "joint" space-time
    prediction_type: str = DEFAULT_PREDICTION_TYPE  # what the network predicts (diffusion.PREDICTION_TYPES)
    fused_attn: bool = True  # F.scaled_dot_product_attention; False = readable manual softmax

    def __post_init__(self):
        if isinstance(self.input_size, (list, tuple)):
            self.input_size = tuple(self.input_size)
        size = self.input_size if isinstance(self.input_size, tuple) else (self.input_size, self.input_size)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"input_size must be a positive int or (H, W), got {self.input_size!r}")
        for name in ("patch_size", "in_channels", "num_frames", "hidden_size", "depth", "num_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if size[0] % self.patch_size or size[1] % self.patch_size:
            raise ValueError(f"input_size {size} must be divisible by patch_size={self.patch_size}")
        if self.hidden_size % self.num_heads or self.hidden_size % 4:
            raise ValueError(f"hidden_size must be divisible by num_heads={self.num_heads} and by 4, "
                             f"got {self.hidden_size}")
        if isinstance(self.mlp_ratio, bool) or not isinstance(self.mlp_ratio, (int, float)) \
                or not math.isfinite(self.mlp_ratio) or int(self.hidden_size * self.mlp_ratio) < 1:
            raise ValueError(f"mlp_ratio must be a finite number with int(hidden_size * mlp_ratio) >= 1 (an MLP at least "
                             f"one unit wide), got {self.mlp_ratio!r} for hidden_size={self.hidden_size}")
        for name, valid in (("cond_mode", COND_MODES), ("attention_mode", ATTENTION_MODES),
                            ("prediction_type", PREDICTION_TYPES)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}")

    @property
    def height(self):
        return self.input_size[0] if isinstance(self.input_size, tuple) else self.input_size

    @property
    def width(self):
        return self.input_size[1] if isinstance(self.input_size, tuple) else self.input_size

    @property
    def tokens_per_frame(self):
        return (self.height // self.patch_size) * (self.width // self.patch_size)


PRESETS = {
    # ~1.8 M params, 16 tokens/frame x 16 frames (p = 8 on 32 x 32 pixels): the bundled model, trained on 2 CPU
    # cores. Tokens are the cost on a CPU: p = 4 (64 tokens/frame) ran ~4x fewer steps per second.
    "cpu-tiny": VDTConfig(input_size=32, patch_size=8, hidden_size=128, depth=4, num_heads=4),
    # ~13.5 M params, patch 8 like cpu-tiny: 3.1 GiB of GPU memory at batch 64 (patch 2: 36 GiB; BENCHMARKS.md)
    "laptop-gpu": VDTConfig(input_size=32, patch_size=8, hidden_size=256, depth=8, num_heads=8),
    # the paper's sizes (VDT-S/B/L follow DiT-S/B/L); the paper runs them on 32 x 32 x 4 SD-VAE latents
    "VDT-S/4": VDTConfig(input_size=32, patch_size=4, hidden_size=384, depth=12, num_heads=6),
    "VDT-S/2": VDTConfig(input_size=32, patch_size=2, hidden_size=384, depth=12, num_heads=6),
    "VDT-B/2": VDTConfig(input_size=32, patch_size=2, hidden_size=768, depth=12, num_heads=12),
    "VDT-L/2": VDTConfig(input_size=32, patch_size=2, hidden_size=1024, depth=24, num_heads=16),
}


def get_config(name, **overrides):
    """A copy of PRESETS[name] with fields replaced, e.g. get_config("cpu-tiny", cond_mode="adaln")."""
    if name not in PRESETS:
        raise ValueError(f"name must be one of {tuple(PRESETS)}, got {name!r}")
    return dataclasses.replace(PRESETS[name], **overrides)


# --------------------------------------------------------------------------------------------------
#                                            Core VDT model
# --------------------------------------------------------------------------------------------------


class VDT(ModelMixin, ConfigMixin):
    """Video diffusion transformer: noisy video + condition + mask + timesteps -> predicted noise (or v).

    Conditioning (cond_mode): every token always gets a learned embedding of its p x p mask patch (which of its
    pixels are to be generated), then
      "concat":     the paper's token concatenation generalised to any spatio-temporal mask: the model input is
                    the blend mask * x_t + (1 - mask) * cond, i.e. given pixels are clean, the rest noisy. The blend
                    is done HERE (idempotent, so a caller that already blended, like diffusion.py, is harmless).
      "adaln":      given pixels of x are zeroed; the condition tokens are pooled (mean over given tokens) and added
                    to the timestep embedding that drives every adaLN.
      "cross_attn": given pixels of x are zeroed; each block cross-attends to the embedded condition tokens.
    The fixed sin-cos pos_embed / temporal_embed are non-persistent buffers: not saved, rebuilt on load."""

    max_timestep = 1000  # the diffusion schedules of diffusion.make_scheduler have T = 1000 steps

    @register_to_config
    def __init__(self, input_size=VDTConfig.input_size, patch_size=VDTConfig.patch_size,
                 in_channels=VDTConfig.in_channels, num_frames=VDTConfig.num_frames, hidden_size=VDTConfig.hidden_size,
                 depth=VDTConfig.depth, num_heads=VDTConfig.num_heads, mlp_ratio=VDTConfig.mlp_ratio,
                 cond_mode=VDTConfig.cond_mode, attention_mode=VDTConfig.attention_mode,
                 prediction_type=VDTConfig.prediction_type, fused_attn=VDTConfig.fused_attn):
        super().__init__()
        cfg = VDTConfig(input_size, patch_size, in_channels, num_frames, hidden_size, depth, num_heads, mlp_ratio,
                        cond_mode, attention_mode, prediction_type, fused_attn)
        D, p = hidden_size, patch_size
        self.x_embedder = PatchEmbed(p, in_channels, D)
        self.mask_embedder = nn.Linear(p * p, D)  # patchified mask (B, F, N, p*p) -> (B, F, N, D)
        self.t_embedder = TimestepEmbedder(D)
        if cond_mode in ("adaln", "cross_attn"):
            self.cond_embedder = PatchEmbed(p, in_channels, D)
        if cond_mode == "adaln":
            self.cond_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.register_buffer("pos_embed", get_2d_sincos_pos_embed(D, cfg.height // p, cfg.width // p),
                             persistent=False)  # (N, D)
        self.register_buffer("temporal_embed", get_1d_sincos_temp_embed(D, num_frames), persistent=False)  # (F, D)
        self.blocks = nn.ModuleList([
            VDTBlock(D, num_heads, mlp_ratio, attention_mode, cross_attn=cond_mode == "cross_attn",
                     fused_attn=fused_attn)
            for _ in range(depth)
        ])
        self.final_layer = FinalLayer(D, p, in_channels)
        self.initialize_weights()

    @property
    def cfg(self) -> VDTConfig:
        """The model's config as the typed VDTConfig (height, width, tokens_per_frame ...): a view of diffusers'
        self.config, the one record of how the model was built (what save_pretrained writes)."""
        return VDTConfig(**{f.name: self.config[f.name] for f in dataclasses.fields(VDTConfig)})

    @classmethod
    def from_config_dataclass(cls, cfg):
        return cls(**dataclasses.asdict(cfg))

    @classmethod
    def from_preset(cls, name, **overrides):
        """VDT.from_preset("cpu-tiny", cond_mode="adaln")."""
        return cls.from_config_dataclass(get_config(name, **overrides))

    def initialize_weights(self):
        """Xavier for every Linear, DiT's N(0, 0.02) for the timestep MLP, and zero for every adaLN modulation,
        cross-attention output and the final layer: the output is exactly 0 and every block the identity at init."""
        def _basic_init(module):
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.apply(_basic_init)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
            if block.cross_attn is not None:
                nn.init.zeros_(block.cross_attn.proj.weight)
                nn.init.zeros_(block.cross_attn.proj.bias)
        for layer in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _check_inputs(self, x, timesteps, cond, mask):
        """Shapes, dtypes and values of forward's inputs; x and cond come back in the weights' dtype."""
        cfg = self.cfg
        shape = f"(B, {cfg.num_frames}, {cfg.in_channels}, {cfg.height}, {cfg.width})"
        if not torch.is_tensor(x) or x.ndim != 5 or tuple(x.shape[1:]) != (cfg.num_frames, cfg.in_channels,
                                                                          cfg.height, cfg.width) or x.shape[0] < 1:
            got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"x must have shape {shape} (B, F, C, H, W) with B >= 1, got {got}")
        B = x.shape[0]
        if not torch.is_tensor(cond) or cond.shape != x.shape:
            got = tuple(cond.shape) if torch.is_tensor(cond) else type(cond).__name__
            raise ValueError(f"cond must have the shape of x {tuple(x.shape)}, got {got}")
        expected_mask = (B, cfg.num_frames, 1, cfg.height, cfg.width)
        if not torch.is_tensor(mask) or tuple(mask.shape) != expected_mask:
            got = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
            raise ValueError(f"mask must have shape {expected_mask} (B, F, 1, H, W), got {got}")
        dtype = next(self.parameters()).dtype  # under autocast the ops still pick their own precision
        for name, value in (("x", x), ("cond", cond)):
            if not value.is_floating_point():
                raise TypeError(f"{name} must be a floating-point tensor (float32, float64, float16 or bfloat16), "
                                f"got {value.dtype}")
            if not torch.isfinite(value).all():
                raise ValueError(f"{name} must be finite, got NaN or inf values")
        if mask.is_complex() or ((mask != 0) & (mask != 1)).any():
            raise ValueError("mask values must be 0 (given) or 1 (generate)")
        timesteps = torch.as_tensor(timesteps, device=x.device)
        if timesteps.dtype == torch.bool or timesteps.is_complex():
            raise TypeError(f"timesteps must be ints or floats, got {timesteps.dtype}")
        if timesteps.ndim == 0:
            timesteps = timesteps.expand(B)
        if tuple(timesteps.shape) != (B,):
            raise ValueError(f"timesteps must be a scalar or have shape ({B},), got {tuple(timesteps.shape)}")
        if not (torch.isfinite(timesteps.float()) & (timesteps >= 0) & (timesteps <= self.max_timestep)).all():
            raise ValueError(f"timesteps must be finite and in [0, {self.max_timestep}], "
                             f"got {timesteps.float().min().item()}..{timesteps.float().max().item()}")
        return x.to(dtype), timesteps, cond.to(dtype), mask

    def embed_tokens(self, embedder, video, mask_tokens):
        """(B, F, C, H, W) -> (B, F, N, D): patch embedding + mask embedding + space and time position embeddings."""
        return (embedder(video) + self.mask_embedder(mask_tokens)
                + self.pos_embed[None, None] + self.temporal_embed[None, :, None])

    def forward(self, x, timesteps, cond, mask):
        """x (B, F, C, H, W) noisy video; timesteps (B,); cond = clean video * (1 - mask); mask (B, F, 1, H, W),
        1 = generate. Returns the prediction (ε, v or x_0) (B, F, C, H, W)."""
        x, timesteps, cond, mask = self._check_inputs(x, timesteps, cond, mask)
        B, F, C, H, W = x.shape
        mask = mask.to(x.dtype)
        x, c, context = self.condition(x, cond, mask, self.t_embedder(timesteps))  # (B, F, N, D), (B, D)
        for block in self.blocks:
            x = block(x, c, context)  # (B, F, N, D)
        x = self.final_layer(x, c)  # (B, F, N, p*p*C)
        return unpatchify(x, self.cfg.patch_size, H, W, C)  # (B, F, C, H, W)

    def condition(self, x, cond, mask, c):
        """Bring in the given pixels as cond_mode says: -> tokens (B, F, N, D), the vector c (B, D) that drives
        every adaLN, and the cross-attention context (B, F*N, D) or None. c enters as the timestep embedding."""
        given = 1 - mask
        mask_tokens = patchify(mask, self.cfg.patch_size)  # (B, F, N, p*p)
        if self.cfg.cond_mode == "concat":  # given pixels clean, generated pixels noisy
            return self.embed_tokens(self.x_embedder, mask * x + given * cond, mask_tokens), c, None
        # the condition only arrives through its own pathway
        x = self.embed_tokens(self.x_embedder, mask * x, mask_tokens)  # (B, F, N, D)
        cond_tokens = self.embed_tokens(self.cond_embedder, given * cond, mask_tokens)  # (B, F, N, D)
        if self.cfg.cond_mode == "cross_attn":
            return x, c, rearrange(cond_tokens, "b f n d -> b (f n) d")  # (B, F*N, D)
        weight = 1 - mask_tokens.mean(-1, keepdim=True)  # (B, F, N, 1) given fraction of each patch
        pooled = (weight * cond_tokens).sum((1, 2)) / weight.sum((1, 2)).clamp(min=1e-6)  # (B, D)
        return x, c + self.cond_mlp(pooled), None  # adaln: (B, D)

    def flops(self, batch=1):
        """Forward-pass FLOPs (2 per multiply-add) for `batch` clips."""
        return count_flops(self.cfg, batch)


# --------------------------------------------------------------------------------------------------
#                                           FLOP counting
# --------------------------------------------------------------------------------------------------


def count_flops(config, batch=1):
    """Analytic forward FLOPs (2 per multiply-add; DiT's fvcore "Gflops" count 1, i.e. half) of matmuls only."""
    cfg = config
    B, F, N, D, p, C = batch, cfg.num_frames, cfg.tokens_per_frame, cfg.hidden_size, cfg.patch_size, cfg.in_channels
    L = F * N  # tokens per clip
    hidden = int(D * cfg.mlp_ratio)
    macs = B * L * (p * p * C * D + p * p * D)  # x_embedder + mask_embedder
    macs += B * (FREQUENCY_EMBEDDING_SIZE * D + D * D)  # t_embedder
    if cfg.cond_mode in ("adaln", "cross_attn"):
        macs += B * L * (p * p * C * D + p * p * D)  # cond_embedder + its mask embedding
    if cfg.cond_mode == "adaln":
        macs += B * 2 * D * D
    block = attention_flops(cfg.attention_mode, B, F, N, D) / 2  # MACs
    block += B * L * 2 * D * hidden + B * D * ADALN_CHUNKS[cfg.attention_mode] * D  # MLP + adaLN_modulation
    if cfg.cond_mode == "cross_attn":
        block += B * (2 * L * D * D + 2 * L * D * D + 2 * L * L * D)  # q, proj; kv over L context; QK^T, AV
    macs += cfg.depth * block
    macs += B * (2 * D * D + L * D * p * p * C)  # final layer
    return 2.0 * macs
