"""Lesson 1 — notebooks/01_world.ipynb. The renderer: simulated ball and block positions (pixels) -> anti-aliased
uint8 frames over a light background and a grey floor. The scenarios that produce the positions are in world.py.
"""

from __future__ import annotations

import numpy as np

from .physics import check_config

# Saturated ball colours, far from each other, from the light background and from the greys.
BALL_COLORS = np.array([[220, 30, 30], [20, 160, 40], [30, 60, 220]], dtype=np.uint8)  # (K, 3)
BALL_COLOR_NAMES = ("red", "green", "blue")  # ball k is drawn in BALL_COLORS[k]
BACKGROUND_COLOR = np.array([235, 235, 225], dtype=np.uint8)
FLOOR_COLOR = np.array([90, 90, 90], dtype=np.uint8)
OBSTACLE_COLOR = np.array([150, 150, 150], dtype=np.uint8)
STATIC_COLORS = np.stack([BACKGROUND_COLOR, FLOOR_COLOR, OBSTACLE_COLOR])  # what can lie under a ball
GRAVEL_WIDTH = 2  # px: a rough floor is drawn as stripes of floor and block grey, so a model can see it


def _box_coverage(low, high, centres):
    """Fraction of each unit pixel [c - 0.5, c + 0.5] covered by the interval [low, high]."""
    return np.clip(np.minimum(high[..., None], centres + 0.5) - np.maximum(low[..., None], centres - 0.5), 0, 1)


def render(positions, radii, present=None, obstacles=None, config=None, obstacle_present=None, rough_floor=None):
    """Draw balls (pixel positions (..., F, K, 2), radii (..., K)) over the floor and blocks -> uint8 (..., F, H, W, 3).

    Anti-aliased: a pixel at distance d from a centre gets coverage clip(r - d + 0.5, 0, 1). Leading batch
    dims are optional; obstacles are (..., M, 4) pixel rectangles [x0, y0, x1, y1] (zero-area = absent).
    rough_floor (...) bool: draw those floors as gravel (stripes of the floor and block greys, both colours the
    tracker knows), the visible sign that their bounces are random.
    """
    cfg = check_config(config)
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim < 3 or positions.shape[-1] != 2:
        raise ValueError(f"positions must have shape (..., F, K, 2), got {positions.shape}")
    lead, (F, K) = positions.shape[:-3], positions.shape[-3:-1]
    radii = np.broadcast_to(np.asarray(radii, dtype=np.float32), lead + (K,))
    present = np.ones(lead + (K,), bool) if present is None else np.broadcast_to(np.asarray(present, bool),
                                                                                 lead + (K,))
    obstacles = np.zeros(lead + (0, 4), np.float32) if obstacles is None else np.asarray(obstacles, np.float32)
    if obstacle_present is not None:
        obstacles = obstacles * np.asarray(obstacle_present, bool)[..., None]
    n = int(np.prod(lead, dtype=np.int64))
    positions, radii, present = positions.reshape(n, F, K, 2), radii.reshape(n, K), present.reshape(n, K)
    obstacles = np.broadcast_to(obstacles, lead + obstacles.shape[-2:]).reshape(n, -1, 4)
    rough = np.zeros(n, bool) if rough_floor is None else np.broadcast_to(np.asarray(rough_floor, bool),
                                                                          lead).reshape(n)

    S = cfg.size
    centres = np.arange(S, dtype=np.float32) + 0.5
    colors = BALL_COLORS.astype(np.float32)
    # static layer (B, H, W, 3): background, floor band, blocks
    static = np.broadcast_to(BACKGROUND_COLOR.astype(np.float32), (n, S, S, 3)).copy()
    floor_cov = _box_coverage(np.float32(cfg.floor_y * S), np.float32(S), centres)  # (H,)
    stripes = (np.arange(S) // GRAVEL_WIDTH) % 2 == 1  # (W,)
    floor_color = np.where(rough[:, None, None] & stripes[None, :, None], OBSTACLE_COLOR, FLOOR_COLOR)  # (B, W, 3)
    static += floor_cov[None, :, None, None] * (floor_color[:, None].astype(np.float32) - static)
    for m in range(obstacles.shape[1]):
        x0, y0, x1, y1 = (obstacles[:, m, c] for c in range(4))
        cover = _box_coverage(y0, y1, centres)[:, :, None] * _box_coverage(x0, x1, centres)[:, None, :]
        static += cover[..., None] * (OBSTACLE_COLOR.astype(np.float32) - static)
    frames = np.broadcast_to(static[:, None], (n, F, S, S, 3)).copy()
    for k in range(K):
        if not present[:, k].any():
            continue
        dx2 = (centres - positions[:, :, k, 0, None]) ** 2  # (B, F, W)
        dy2 = (centres - positions[:, :, k, 1, None]) ** 2  # (B, F, H)
        dist = np.sqrt(dy2[..., :, None] + dx2[..., None, :])  # (B, F, H, W)
        alpha = np.clip(radii[:, k, None, None, None] - dist + 0.5, 0, 1) * present[:, k, None, None, None]
        frames += alpha[..., None] * (colors[k % len(colors)] - frames)
    return np.rint(frames).astype(np.uint8).reshape(lead + (F, S, S, 3))
