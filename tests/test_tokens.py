import numpy as np
import pytest
import torch

from minivdt.tokens import (PatchEmbed, get_1d_sincos_temp_embed, get_2d_sincos_pos_embed, patchify, unpatchify)


@pytest.mark.parametrize("H,W,p", [(32, 32, 4), (16, 24, 4), (8, 12, 2), (6, 6, 1)])
def test_patchify_shapes_and_exact_inverse(H, W, p):
    x = torch.randn(2, 3, 5, H, W)
    tokens = patchify(x, p)
    assert tokens.shape == (2, 3, (H // p) * (W // p), 5 * p * p)
    assert torch.equal(unpatchify(tokens, p, H, W, 5), x)


def test_patchify_token_is_one_patch_in_row_major_order():
    x = torch.arange(1 * 1 * 1 * 4 * 6).float().view(1, 1, 1, 4, 6)
    tokens = patchify(x, 2)  # grid 2 x 3
    assert torch.equal(tokens[0, 0, 1], x[0, 0, 0, 0:2, 2:4].flatten())  # row 0, column 1
    assert torch.equal(tokens[0, 0, 3], x[0, 0, 0, 2:4, 0:2].flatten())  # row 1, column 0


def test_patchify_not_divisible_names_patch_size():
    with pytest.raises(ValueError, match="patch_size"):
        patchify(torch.zeros(1, 1, 3, 30, 32), 4)
    with pytest.raises(ValueError, match="patch_size"):
        unpatchify(torch.zeros(1, 1, 64, 48), 4, 32, 30, 3)
    with pytest.raises(ValueError, match="tokens"):
        unpatchify(torch.zeros(1, 1, 63, 48), 4, 32, 32, 3)


def _dit_reference_2d(embed_dim, grid_size):
    """DiT/MAE numpy formula, square grid, copied in spirit from DiT's models.py."""
    def one_d(dim, pos):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0)
    return np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)


def test_2d_sincos_matches_dit_and_properties():
    emb = get_2d_sincos_pos_embed(64, 8, 8)
    assert emb.shape == (64, 64)
    np.testing.assert_allclose(emb.numpy(), _dit_reference_2d(64, 8), atol=1e-6)
    # each (sin, cos) pair has unit norm -> every row has norm sqrt(D/2); all positions distinct
    assert torch.allclose(emb.norm(dim=1), torch.full((64,), 32 ** 0.5))
    assert torch.cdist(emb, emb).add(torch.eye(64) * 10).min() > 0.1
    # non-square: first half depends only on the column, second half only on the row
    emb = get_2d_sincos_pos_embed(32, 3, 5).view(3, 5, 32)
    assert torch.allclose(emb[0, :, :16], emb[2, :, :16]) and torch.allclose(emb[:, 0, 16:], emb[:, 4, 16:])
    with pytest.raises(ValueError, match="dim"):
        get_2d_sincos_pos_embed(30, 2, 2)


def test_1d_temporal_embed():
    emb = get_1d_sincos_temp_embed(16, 10)
    assert emb.shape == (10, 16)
    assert torch.allclose(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))  # sin 0, cos 0
    # relative-position property: <e_i, e_j> depends only on i - j
    gram = emb @ emb.T
    assert torch.allclose(gram[1, 3], gram[5, 7], atol=1e-5)


def test_patch_embed():
    embed = PatchEmbed(4, 3, 32)
    assert embed(torch.randn(2, 5, 3, 16, 8)).shape == (2, 5, 8, 32)
