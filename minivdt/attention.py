"""Lesson 3 — notebooks/03_attention.ipynb. Multi-head attention (fast SDPA path + readable manual path),
cross-attention, and the three ways to apply it to video tokens (B, F, N, D): spatial (within a frame), temporal
(across frames at one location), joint (all)."""

import math

import torch.nn.functional as F
from einops import rearrange
from torch import nn

# --------------------------------------------------------------------------------------------------
#                                          Attention layers
# --------------------------------------------------------------------------------------------------


def scaled_dot_product(q, k, v, fused=True):
    """softmax(q k^T / sqrt(d)) v on (B, heads, L, d) tensors; `fused` picks PyTorch's kernel, else the textbook maths."""
    if fused:
        return F.scaled_dot_product_attention(q, k, v)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (B, h, L, S)
    att = att.softmax(dim=-1)
    return att @ v  # (B, h, L, d)


class Attention(nn.Module):
    """Multi-head self-attention on (B, L, D); submodule names (qkv, proj) match timm, as the official VDT does."""

    def __init__(self, dim, num_heads, qkv_bias=True, fused=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        self.num_heads = num_heads
        self.fused = fused  # True: F.scaled_dot_product_attention; False: manual softmax (same numbers)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, L, D = x.shape
        qkv = rearrange(self.qkv(x), "b l (three h d) -> three b h l d", three=3, h=self.num_heads)
        y = scaled_dot_product(qkv[0], qkv[1], qkv[2], self.fused)  # (B, h, L, D/h)
        return self.proj(rearrange(y, "b h l d -> b l (h d)"))  # (B, L, D)


class CrossAttention(nn.Module):
    """Multi-head attention with queries from x (B, L, D) and keys/values from a context (B, S, D)."""

    def __init__(self, dim, num_heads, qkv_bias=True, fused=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        self.num_heads = num_heads
        self.fused = fused
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, context):
        q = rearrange(self.q(x), "b l (h d) -> b h l d", h=self.num_heads)  # (B, h, L, D/h)
        kv = rearrange(self.kv(context), "b s (two h d) -> two b h s d", two=2, h=self.num_heads)
        y = scaled_dot_product(q, kv[0], kv[1], self.fused)  # (B, h, L, D/h)
        return self.proj(rearrange(y, "b h l d -> b l (h d)"))  # (B, L, D)


# --------------------------------------------------------------------------------------------------
#                         Applying attention to video tokens (B, F, N, D): one einops line each
# --------------------------------------------------------------------------------------------------


def spatial_attention(attn, x):
    """Each frame attends within itself: F*B sequences of N tokens. Never mixes frames."""
    y = attn(rearrange(x, "b f n d -> (b f) n d"))  # (B*F, N, D)
    return rearrange(y, "(b f) n d -> b f n d", b=x.shape[0])


def temporal_attention(attn, x):
    """Each patch location attends across frames: N*B sequences of F tokens. Never mixes locations."""
    y = attn(rearrange(x, "b f n d -> (b n) f d"))  # (B*N, F, D)
    return rearrange(y, "(b n) f d -> b f n d", b=x.shape[0])


def joint_attention(attn, x):
    """All F*N tokens attend to each other (Sora/Latte-style joint space-time): cost grows as (F N)^2."""
    y = attn(rearrange(x, "b f n d -> b (f n) d"))  # (B, F*N, D)
    return rearrange(y, "b (f n) d -> b f n d", f=x.shape[1])


# --------------------------------------------------------------------------------------------------
#                                           FLOP counting
# --------------------------------------------------------------------------------------------------

ATTENTION_KINDS = ("spatial", "temporal", "joint", "factorised")


def attention_flops(kind, batch, num_frames, tokens_per_frame, dim):
    """Matmul FLOPs (2 per multiply-add) of one attention layer of `kind` on (B, F, N, D) tokens:
    q,k,v,out projections 4 L D^2 plus QK^T and AV 2 L^2 D per sequence of length L.
    "factorised" = spatial + temporal (one of each, as in a VDT block)."""
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"kind must be one of {ATTENTION_KINDS}, got {kind!r}")
    if kind == "factorised":
        return sum(attention_flops(k, batch, num_frames, tokens_per_frame, dim) for k in ("spatial", "temporal"))
    num_seqs, length = {
        "spatial": (batch * num_frames, tokens_per_frame),
        "temporal": (batch * tokens_per_frame, num_frames),
        "joint": (batch, num_frames * tokens_per_frame),
    }[kind]
    macs = num_seqs * (4 * length * dim * dim + 2 * length * length * dim)
    return 2.0 * macs
