"""Guards for code that a running training depends on: VDT.forward for every cond_mode x attention_mode, and the
batches (clip indices, masks, RNG state) that training.make_batch draws, compared with outputs saved in
tests/data/before_refactor.pt (torch 2.13 on CPU) by the code before it was reorganised.

The batches must be bit-identical on any machine (integers and RNG state). The forward pass is bit-identical only
on the CPU that saved it: another host's matmul kernels (AVX2 vs AVX-512/AMX) round differently, by up to 4.8e-7 on
outputs of size ~1 (measured on an Intel Xeon with AMX against the AMD EPYC that saved them). So the forward is
compared within 2e-6: nudging a single MLP bias by 1e-3 already moves the output by 3.9e-6 and fails. A resume is
bit-exact only on one host."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from minivdt.masks import make_mask
from minivdt.model import VDT
from minivdt.training import make_batch, make_train_config

REFERENCE = torch.load(Path(__file__).parent / "data" / "before_refactor.pt", weights_only=True)


def _sha(tensor):
    return hashlib.sha256(tensor.numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("cond_mode", ["concat", "adaln", "cross_attn"])
@pytest.mark.parametrize("attention_mode", ["factorised", "joint"])
def test_forward_matches_the_saved_output_to_float_rounding(cond_mode, attention_mode):
    torch.manual_seed(0)
    model = VDT(input_size=16, patch_size=4, num_frames=4, hidden_size=32, depth=2, num_heads=2,
                cond_mode=cond_mode, attention_mode=attention_mode)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # every parameter off its (partly zero) init, so every path reaches the output
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    g = torch.Generator().manual_seed(2)
    x, video = torch.randn(2, 4, 3, 16, 16, generator=g), torch.randn(2, 4, 3, 16, 16, generator=g)
    mask = torch.cat([make_mask("predict", 1, 4, 16, 16, num_given=2, patch_size=4),
                      make_mask("random", 1, 4, 16, 16, patch_size=4, generator=g)])
    with torch.no_grad():
        y = model(x, torch.tensor([3, 700]), video * (1 - mask), mask)
    torch.testing.assert_close(y, REFERENCE["forward"][f"{cond_mode}/{attention_mode}"], rtol=0, atol=2e-6)


def test_training_batches_are_identical_to_the_saved_ones():
    cfg = make_train_config("smoke", num_train_clips=16, batch_size=8)
    videos = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (16, 16, 32, 32, 3), dtype=np.uint8))
    for saved in REFERENCE["batches"]:
        x0, mask, generator = make_batch(videos, cfg, saved["step"], 0, 1)
        assert _sha(x0) == saved["x0_sha"], saved["step"]
        assert _sha(mask.to(torch.uint8)) == saved["mask_sha"], saved["step"]
        assert torch.equal(generator.get_state(), saved["rng_state"]), saved["step"]
