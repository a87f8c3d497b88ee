import pytest
import torch

from minivdt.attention import (Attention, CrossAttention, attention_flops, joint_attention, spatial_attention,
                               temporal_attention)


def _naive_attention(attn, x):
    """Per-head loop reference: softmax(q_h k_h^T / sqrt(d)) v_h, heads concatenated, then proj."""
    D = x.shape[-1]
    d = D // attn.num_heads
    q, k, v = attn.qkv(x).split(D, dim=-1)
    heads = []
    for h in range(attn.num_heads):
        s = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[..., s] @ k[..., s].transpose(-2, -1) / d ** 0.5, dim=-1)
        heads.append(weights @ v[..., s])
    return attn.proj(torch.cat(heads, dim=-1))


def test_manual_equals_sdpa_equals_naive():
    torch.manual_seed(0)
    attn = Attention(32, 4)
    x = torch.randn(3, 10, 32)
    fast = attn(x)
    attn.fused = False
    manual = attn(x)
    assert fast.shape == x.shape
    torch.testing.assert_close(manual, fast, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(manual, _naive_attention(attn, x), atol=1e-5, rtol=1e-5)


def test_cross_attention_manual_equals_sdpa_and_uses_context():
    torch.manual_seed(0)
    attn = CrossAttention(32, 4)
    x, context = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    fast = attn(x, context)
    attn.fused = False
    torch.testing.assert_close(attn(x, context), fast, atol=1e-5, rtol=1e-5)
    assert fast.shape == (2, 5, 32)
    assert not torch.allclose(attn(x, context + 1), fast)


def _changed(apply, x, index):
    attn = Attention(16, 2)
    y = apply(attn, x)
    x2 = x.clone()
    x2[index] += 1.0
    return (apply(attn, x2) - y).abs().amax(dim=-1) > 1e-6  # (B, F, N) which outputs moved


def test_spatial_never_mixes_frames_temporal_never_mixes_locations():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 16)  # (B, F, N, D)
    changed = _changed(spatial_attention, x, (1, 2, 3))
    assert changed[1, 2].all() and changed.sum() == 6  # all N tokens of frame 2 of sample 1, nothing else
    changed = _changed(temporal_attention, x, (1, 2, 3))
    assert changed[1, :, 3].all() and changed.sum() == 4  # location 3 in all frames of sample 1, nothing else
    changed = _changed(joint_attention, x, (1, 2, 3))
    assert changed[1].all() and not changed[0].any()  # joint: everything in the same clip


def test_attention_flops():
    B, F, N, D = 2, 16, 64, 128
    spatial = attention_flops("spatial", B, F, N, D)
    assert spatial == 2 * B * F * (4 * N * D * D + 2 * N * N * D)
    assert attention_flops("factorised", B, F, N, D) == spatial + attention_flops("temporal", B, F, N, D)
    assert attention_flops("joint", B, F, N, D) > attention_flops("factorised", B, F, N, D)
    with pytest.raises(ValueError, match="kind"):
        attention_flops("sparse", B, F, N, D)
