import pytest
import torch

from minivdt.masks import TASKS, TaskMix, make_mask, make_masks

F, H, W = 16, 32, 32


def frames_generated(mask):
    """(F,) bool per frame: fully generated; asserts each frame is all-0 or all-1."""
    per_frame = mask[0].flatten(1)
    assert ((per_frame == 0).all(1) | (per_frame == 1).all(1)).all()
    return per_frame[:, 0].bool()


def test_shapes_dtype_and_values():
    for task in TASKS:
        mask = make_mask(task, 3, F, H, W, patch_size=4, generator=torch.Generator().manual_seed(0))
        assert mask.shape == (3, F, 1, H, W) and mask.dtype == torch.float32
        assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_temporal_tasks_pattern():
    expected = {
        "unconditional": [1] * 16,
        "predict": [0] * 8 + [1] * 8,
        "backward": [1] * 8 + [0] * 8,
        "interpolate": [0] * 4 + [1] * 8 + [0] * 4,
        "image_to_video": [0] + [1] * 15,
    }
    for task, pattern in expected.items():
        assert frames_generated(make_mask(task, 1, F, H, W, num_given=8)).tolist() == [bool(v) for v in pattern]
    assert frames_generated(make_mask("predict", 1, F, H, W, num_given=3))[:3].tolist() == [False] * 3
    assert frames_generated(make_mask("interpolate", 1, 4, H, W, num_given=1)).tolist() == [False, True, True, False]


def test_spatial_completion_never_empty_and_patch_aligned():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        mask = make_mask("spatial_completion", 4, F, 16, 24, patch_size=4, generator=g)
        for m in mask:
            assert torch.equal(m, m[:1].expand_as(m))  # same region in every frame
            generated = m[0, 0].sum()
            assert 0 < generated < 16 * 24  # never empty, never everything
            cells = m[0, 0].view(4, 4, 6, 4).permute(0, 2, 1, 3)  # (gh, gw, p, p)
            assert (cells.amin((-1, -2)) == cells.amax((-1, -2))).all()  # patch aligned
            rows, cols = m[0, 0].nonzero().unbind(1)
            assert generated == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
    # also on the smallest grid (2 patches)
    for seed in range(20):
        mask = make_mask("spatial_completion", 1, 2, 4, 8, patch_size=4, generator=torch.Generator().manual_seed(seed))
        assert mask[0, 0].sum() == 16


def test_random_has_both_kinds_and_is_seeded():
    for seed in range(30):
        mask = make_mask("random", 4, 2, 8, 8, patch_size=4, generator=torch.Generator().manual_seed(seed))
        per_sample = mask.flatten(1)
        assert (per_sample.amax(1) == 1).all() and (per_sample.amin(1) == 0).all()
    a = make_mask("random", 2, F, H, W, patch_size=4, generator=torch.Generator().manual_seed(3))
    b = make_mask("random", 2, F, H, W, patch_size=4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="task must be one of"):
        make_mask("outpaint", 1, F, H, W)
    with pytest.raises(ValueError, match="num_given"):
        make_mask("predict", 1, F, H, W, num_given=16)
    with pytest.raises(ValueError, match="patch_size"):
        make_mask("random", 1, F, 30, 32, patch_size=4)
    with pytest.raises(ValueError, match="unconditional"):
        TaskMix({"predict": 1, "inpaint": 1})
    with pytest.raises(ValueError, match="weights"):
        TaskMix({"predict": 0})


def test_task_mix():
    g = torch.Generator().manual_seed(0)
    mix = TaskMix({"predict": 3, "image_to_video": 1, "random": 0})
    tasks = mix.sample(2000, g)
    assert set(tasks) == {"predict", "image_to_video"}
    assert abs(tasks.count("predict") / 2000 - 0.75) < 0.05
    masks, tasks = mix(6, F, H, W, num_given=8, patch_size=4, generator=g)
    assert masks.shape == (6, F, 1, H, W)
    for mask, task in zip(masks, tasks):
        assert torch.equal(mask, make_mask(task, 1, F, H, W, num_given=8, patch_size=4)[0])
    assert TaskMix({"backward": 1}).sample(3) == ["backward"] * 3
    assert make_masks(["predict", "backward"], F, H, W).shape == (2, F, 1, H, W)


@pytest.mark.parametrize("task", TASKS)
def test_every_task_and_every_num_given(task):
    """Property over every k and task: predict/backward give exactly k frames (first/last), interpolate
    max(1, k // 2) at each end; the other tasks ignore k. Every mask has something to generate."""
    F = 16
    for k in range(1, F):
        if task == "interpolate" and 2 * max(1, k // 2) >= F:
            with pytest.raises(ValueError, match="num_given"):
                make_mask(task, 1, F, 8, 8, num_given=k)
            continue
        mask = make_mask(task, 2, F, 8, 8, num_given=k, patch_size=4, generator=torch.Generator().manual_seed(k))
        per_frame = mask.amax(dim=(2, 3, 4))  # (B, F): 1 where a frame has anything to generate
        given_frames = (mask.amax(dim=(2, 3, 4)) == 0)
        assert mask.sum() > 0
        if task == "predict":
            assert given_frames[:, :k].all() and not given_frames[:, k:].any()
        elif task == "backward":
            assert given_frames[:, F - k:].all() and not given_frames[:, :F - k].any()
        elif task == "interpolate":
            j = max(1, k // 2)
            assert given_frames[:, :j].all() and given_frames[:, F - j:].all() and (per_frame[:, j:F - j] == 1).all()
