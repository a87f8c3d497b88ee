"""Lesson 2 — notebooks/02_patchify_embeddings.ipynb. Video <-> patch tokens, and the fixed sin-cos position
embeddings (DiT / MAE formula).

A video (B, F, C, H, W) becomes F frames of N = (H/p)(W/p) tokens, each holding a p x p patch of C channels.
"""

import torch
from einops import rearrange
from torch import nn

# --------------------------------------------------------------------------------------------------
#                                       Patchify / unpatchify
# --------------------------------------------------------------------------------------------------


def _check_divisible(height, width, patch_size):
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"height and width must be divisible by patch_size={patch_size}, got height={height}, width={width}"
        )


def patchify(x, patch_size):
    """(B, F, C, H, W) video -> (B, F, N, p*p*C) tokens, N = (H/p)(W/p) in row-major order."""
    if x.ndim != 5:
        raise ValueError(f"x must have shape (B, F, C, H, W), got {tuple(x.shape)}")
    _check_divisible(x.shape[-2], x.shape[-1], patch_size)
    return rearrange(x, "b f c (h p1) (w p2) -> b f (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def unpatchify(tokens, patch_size, height, width, channels):
    """Exact inverse of `patchify`: (B, F, N, p*p*C) -> (B, F, C, H, W)."""
    _check_divisible(height, width, patch_size)
    expected = (height // patch_size) * (width // patch_size), patch_size * patch_size * channels
    if tokens.ndim != 4 or tuple(tokens.shape[2:]) != expected:
        raise ValueError(f"tokens must have shape (B, F, {expected[0]}, {expected[1]}), got {tuple(tokens.shape)}")
    return rearrange(
        tokens, "b f (h w) (p1 p2 c) -> b f c (h p1) (w p2)",
        h=height // patch_size, p1=patch_size, p2=patch_size, c=channels,
    )


class PatchEmbed(nn.Module):
    """Linear projection of each flattened p x p patch to the model width: (B, F, C, H, W) -> (B, F, N, D).

    Same maths as DiT's Conv2d(kernel=stride=p), written as patchify + Linear so the tokens are visible.
    """

    def __init__(self, patch_size, in_channels, hidden_size):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(patch_size * patch_size * in_channels, hidden_size)

    def forward(self, x):
        return self.proj(patchify(x, self.patch_size))  # (B, F, N, D)


# --------------------------------------------------------------------------------------------------
#                                    Sine/cosine position embeddings
# --------------------------------------------------------------------------------------------------


def get_1d_sincos_embed_from_positions(dim, positions):
    """positions (M,) -> (M, dim): [sin(pos * w_i), cos(pos * w_i)], w_i = 1 / 10000^(2i/dim) (Transformer/MAE)."""
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))  # (dim/2,)
    angles = positions.to(torch.float64)[:, None] * omega[None]  # (M, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()  # (M, dim)


def get_2d_sincos_pos_embed(dim, grid_h, grid_w):
    """(N, dim) spatial embedding, N = grid_h * grid_w row-major: first half encodes the column (x),
    second half the row (y), exactly as DiT/MAE's get_2d_sincos_pos_embed (which uses meshgrid(w, h))."""
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 for the 2-D sin-cos embedding, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w), indexing="ij")  # (h, w) each
    emb_x = get_1d_sincos_embed_from_positions(dim // 2, cols.flatten())  # (N, dim/2)
    emb_y = get_1d_sincos_embed_from_positions(dim // 2, rows.flatten())  # (N, dim/2)
    return torch.cat([emb_x, emb_y], dim=1)  # (N, dim)


def get_1d_sincos_temp_embed(dim, num_frames):
    """(F, dim) temporal embedding of frame indices 0..F-1 (VDT's time_embed)."""
    return get_1d_sincos_embed_from_positions(dim, torch.arange(num_frames))
