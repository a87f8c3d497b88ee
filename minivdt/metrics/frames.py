"""Lesson 8 — notebooks/08_physics_prediction.ipynb. How good is a predicted future? Pixel metrics, a colour ball
tracker, physics read-outs and `evaluate`, which scores any predictor against the one true future (the baselines are
in baselines.py; forecasts of an uncertain future are scored in uncertain.py).

Pixel metrics compare uint8 frames; the physics metrics track each coloured ball in the predicted frames
and compare with the simulator's true positions and contact labels (Physion-style "does the agent touch
the target?" read-out).
"""

from __future__ import annotations

import numpy as np

from ..world import BALL_COLORS, STATIC_COLORS, ClipBatch, WorldConfig

PSNR_MAX = 100.0  # dB reported for identical frames (instead of infinity, so means stay finite)
SSIM_SIGMA = 1.5  # Gaussian window of SSIM (Wang et al. 2004), truncated at 3.5 sigma -> 11 taps
SSIM_K1, SSIM_K2 = 0.01, 0.03
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luminance weights


def _check_pair(pred, true):
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {pred.shape} and {true.shape}")
    if pred.ndim < 4 or pred.shape[-1] != 3:
        raise ValueError(f"pred must have shape (..., F, H, W, 3), got {pred.shape}")
    return pred.astype(np.float64), true.astype(np.float64)


# ----------------------------------------------------------------------------------------------------------
# Pixel metrics: uint8 (..., F, H, W, 3) -> per frame (..., F)
# ----------------------------------------------------------------------------------------------------------

def mse(pred, true) -> np.ndarray:
    """Mean squared error per frame, in uint8 units^2."""
    pred, true = _check_pair(pred, true)
    return np.mean((pred - true) ** 2, axis=(-3, -2, -1))


def psnr(pred, true) -> np.ndarray:
    """Peak signal-to-noise ratio per frame in dB (peak 255), capped at PSNR_MAX for identical frames."""
    error = mse(pred, true)
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(255.0 ** 2 / error), PSNR_MAX)


def _gaussian_blur(x: np.ndarray, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Separable Gaussian filter over the last two axes (H, W) with reflected borders."""
    radius = int(3.5 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="reflect")
        n = x.shape[axis]
        x = sum(w * np.take(padded, np.arange(i, i + n), axis=axis) for i, w in enumerate(taps))
    return x


def ssim(pred, true) -> np.ndarray:
    """Structural similarity per frame on the luminance channel (Gaussian window, sigma 1.5, data range 255)."""
    pred, true = _check_pair(pred, true)
    x, y = pred @ LUMA, true @ LUMA  # (..., F, H, W)
    c1, c2 = (SSIM_K1 * 255) ** 2, (SSIM_K2 * 255) ** 2
    mu_x, mu_y = _gaussian_blur(x), _gaussian_blur(y)
    var_x = _gaussian_blur(x * x) - mu_x ** 2
    var_y = _gaussian_blur(y * y) - mu_y ** 2
    cov = _gaussian_blur(x * y) - mu_x * mu_y
    # SSIM = (2 mu_x mu_y + c1)(2 cov + c2) / ((mu_x^2 + mu_y^2 + c1)(var_x + var_y + c2))
    ssim_map = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(axis=(-2, -1))


# ----------------------------------------------------------------------------------------------------------
# Colour tracker
# ----------------------------------------------------------------------------------------------------------

def _box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum of x over a (2 radius + 1)^2 square around each pixel of the last two axes (zero outside the frame)."""
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(x, pad), axis=axis)
        n = x.shape[axis]
        x = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis) - np.take(c, np.arange(n), axis=axis)
    return x


def track_balls(frames, colors=BALL_COLORS, max_residual: float = 30.0, min_alpha: float = 0.05,
                radius_range: tuple[float, float] | None = None, min_area_fraction: float = 0.4,
                min_concentration: float = 0.6, max_mean_residual: float = 12.0):
    """Locate each coloured ball: frames uint8 (..., F, H, W, 3) -> positions (..., F, K, 2) px, found (..., F, K).

    A pixel is modelled as a blend alpha * ball colour + (1 - alpha) * one of the static colours
    (background, floor, block). alpha (the pixel's ball coverage) comes from projecting the pixel colour on
    the line between the two colours; pixels more than max_residual (uint8 units) off every such line, or
    better explained by a blend of two static colours, are ignored.

    Only a ball-like blob counts: the window of radius r_max + 2.5 px around the densest spot of ball colour
    must hold (1) at least min_area_fraction of the smallest ball's area, (2) at least min_concentration of all
    the ball colour in the frame, and (3) pixels that sit on the colour line (mean residual at most
    max_mean_residual). Scattered noise pixels fail (2) and (3), so random frames score as "lost", not as a
    lucky guess. The position is the alpha-weighted centroid of that window, sub-pixel accurate for
    anti-aliased renders. radius_range: ball radii as fractions of the frame width (default WorldConfig's).
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim < 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 with shape (..., F, H, W, 3), got {frames.dtype} {frames.shape}")
    pixels = frames.astype(np.float32)
    H, W = frames.shape[-3:-1]
    low, high = WorldConfig().radius_range if radius_range is None else radius_range
    r_min, r_max = low * W, high * W  # ball radii in px
    window = r_max + 2.5  # covers an anti-aliased ball (alpha > 0 out to r + 0.5) seen from a spot 2 px off
    ys, xs = np.arange(H, dtype=np.float32) + 0.5, np.arange(W, dtype=np.float32) + 0.5
    statics = STATIC_COLORS.astype(np.float32)  # (S, 3)

    def blend(pixels, a, b):
        """Coverage of colour b over colour a, and the distance of the pixel from the a-b colour line."""
        direction, offset = b - a, pixels - a
        alpha = np.clip(offset @ direction / (direction @ direction), 0, 1)
        return alpha, np.linalg.norm(offset - alpha[..., None] * direction, axis=-1)

    def centroid_window(weight, cx, cy):
        """(..., H, W) weights inside the disk of radius `window` around (cx, cy) (..., )."""
        inside = (xs - cx[..., None, None]) ** 2 + (ys[:, None] - cy[..., None, None]) ** 2 <= window ** 2
        return np.where(inside, weight, 0.0)

    # pixels explained by a blend of two static colours (anti-aliased block edges) are never ball pixels
    static_residual = np.min([blend(pixels, statics[i], statics[j])[1]
                              for i in range(len(statics)) for j in range(i + 1, len(statics))], axis=0)
    positions, found = [], []
    for color in np.asarray(colors, np.float32):
        best_alpha = np.zeros(frames.shape[:-1], np.float32)
        best_residual = np.full(frames.shape[:-1], np.inf, np.float32)
        for under in statics:
            alpha, residual = blend(pixels, under, color)
            better = residual < best_residual
            best_alpha = np.where(better, alpha, best_alpha)
            best_residual = np.where(better, residual, best_residual)
        is_ball = (best_residual < max_residual) & (best_residual < static_residual) & (best_alpha >= min_alpha)
        weight = np.where(is_ball, best_alpha, 0.0)  # (..., H, W)
        # densest spot: the pixel whose square neighbourhood of side ~2 r_max holds the most ball colour
        density = _box_sum(weight, int(np.ceil(r_max))).reshape(weight.shape[:-2] + (H * W,))
        peak = density.argmax(-1)
        cx, cy = xs[peak % W], ys[peak // W]
        for _ in range(2):  # centroid of the window, then of the window re-centred on it
            local = centroid_window(weight, cx, cy)
            mass = local.sum(axis=(-2, -1))
            safe = np.maximum(mass, 1e-6)
            cx = (local * xs).sum(axis=(-2, -1)) / safe
            cy = (local * ys[:, None]).sum(axis=(-2, -1)) / safe
        mean_residual = (local * best_residual).sum(axis=(-2, -1)) / safe
        concentration = mass / np.maximum(weight.sum(axis=(-2, -1)), 1e-6)
        positions.append(np.stack([cx, cy], axis=-1))
        found.append((mass >= min_area_fraction * np.pi * r_min ** 2) & (concentration >= min_concentration)
                     & (mean_residual <= max_mean_residual))
    return np.stack(positions, axis=-2).astype(np.float32), np.stack(found, axis=-1)


def position_errors(pred_frames, true_positions, present, max_error: float | None = None):
    """Per-frame tracking error of predicted frames against true positions -> (errors (..., F) px, lost (..., F)).

    errors: mean over the present balls of the distance between tracked and true centre, each capped at
    max_error (default a quarter of the frame width); a ball that is lost (not found) counts as max_error,
    so a model cannot improve its score by erasing balls. lost: fraction of present balls not found.
    """
    if max_error is None:
        max_error = np.asarray(pred_frames).shape[-2] / 4
    tracked, found = track_balls(pred_frames)
    return track_errors(tracked, found, true_positions, present, max_error)


def track_errors(tracked, found, true_positions, present, max_error: float):
    """position_errors from tracked positions (..., F, K, 2) and found (..., F, K) instead of frames."""
    true_positions, present = np.asarray(true_positions), np.asarray(present, bool)
    K = true_positions.shape[-2]
    tracked, found = tracked[..., :K, :], found[..., :K]
    distance = np.minimum(np.linalg.norm(tracked - true_positions, axis=-1), max_error)  # (..., F, K)
    distance = np.where(found, distance, max_error)
    present_f = np.broadcast_to(present[..., None, :], distance.shape)
    count = np.maximum(present_f.sum(-1), 1)
    errors = np.where(present_f, distance, 0.0).sum(-1) / count
    lost = (present_f & ~found).sum(-1) / count
    return errors, lost


# ----------------------------------------------------------------------------------------------------------
# Contact read-out
# ----------------------------------------------------------------------------------------------------------

def contact_gaps(positions, clips: ClipBatch) -> np.ndarray:
    """Gap (px) between the agent's and the target's surfaces: positions (B, ..., K, 2) -> (B, ...)."""
    positions = np.asarray(positions, np.float64)
    B, K = len(positions), positions.shape[-2]
    extra = (1,) * (positions.ndim - 3)  # broadcast per-clip values over the frame-like axes
    rows = np.arange(B)
    target = np.minimum(clips.target, K - 1)
    agent_pos = np.moveaxis(positions, -2, 1)[rows, clips.agent]  # (B, ..., 2)
    ball_pos = np.moveaxis(positions, -2, 1)[rows, target]
    agent_r = clips.radii[rows, clips.agent].reshape((B,) + extra)
    target_r = clips.radii[rows, target].reshape((B,) + extra)
    ball_gap = np.linalg.norm(agent_pos - ball_pos, axis=-1) - agent_r - target_r
    rect = clips.obstacles[rows, np.minimum(clips.target, clips.obstacles.shape[1] - 1)].reshape((B,) + extra + (4,))
    nearest = np.stack([np.clip(agent_pos[..., 0], rect[..., 0], rect[..., 2]),
                        np.clip(agent_pos[..., 1], rect[..., 1], rect[..., 3])], -1)
    block_gap = np.linalg.norm(agent_pos - nearest, axis=-1) - agent_r
    return np.where(clips.target_is_obstacle.reshape((B,) + extra), block_gap, ball_gap)


def _between_frames(positions, clips: ClipBatch, num_samples: int = 8):
    """Sub-frame positions between frames t and t+1, extrapolated as free flight under gravity.

    Forward from frames (t-1, t) and backward from frames (t+2, t+1), so a bounce that happens between two
    frames is seen from both sides. positions (B, F, K, 2) -> ((B, 2, F-1, S, K, 2) paths, (B, 2, F-1) valid).
    """
    gravity = np.array([0.0, clips.config.gravity * clips.config.size])  # px / frame^2
    floor = clips.config.floor_y * clips.config.size - clips.radii[:, None, None, :]  # (B, 1, 1, K)
    s = np.linspace(0, 1, num_samples + 2)[1:-1][None, None, :, None, None]  # (1, 1, S, 1, 1)
    p = positions[:, :, None]  # (B, F, 1, K, 2)
    F = positions.shape[1]
    # forward from t: x(s) = p_t + v_t s + g s^2 / 2 with v_t = p_t - p_{t-1} + g / 2, for intervals t = 1..F-2
    v_fwd = p[:, 1:-1] - p[:, :-2] + gravity / 2
    forward = p[:, 1:-1] + v_fwd * s + gravity * s ** 2 / 2
    # backward from t+1: x(s) = p_{t+1} - v_{t+1} (1-s) + g (1-s)^2 / 2 with v_{t+1} = p_{t+2} - p_{t+1} - g / 2
    v_bwd = p[:, 2:] - p[:, 1:-1] - gravity / 2
    backward = p[:, 1:-1] - v_bwd * (1 - s) + gravity * (1 - s) ** 2 / 2
    pad = np.zeros_like(forward[:, :1])
    forward = np.concatenate([pad, forward], 1)  # interval 0 has no forward estimate
    backward = np.concatenate([backward, pad], 1)  # interval F-2 has no backward estimate
    paths = np.stack([forward, backward], 1)
    paths[..., 1] = np.minimum(paths[..., 1], floor[:, None])  # nothing goes through the floor
    valid = np.ones((len(positions), 2, F - 1), bool)
    valid[:, 0, 0] = valid[:, 1, -1] = False
    return paths, valid


def contact_readout(positions, clips: ClipBatch, found=None, tolerance: float | None = None) -> np.ndarray:
    """Does the agent touch the target during the clip? positions (B, F, K, 2) px -> (B,) bool.

    Touching = surface gap <= tolerance (default 1% of the frame width) at a frame or on the free-flight
    path between two frames (extrapolated from the neighbouring frames, see _between_frames), since fast
    bounces happen between frames. Frames where found (B, F, K) says the agent or target ball was not
    tracked are skipped.
    """
    positions = np.asarray(positions, np.float64)
    if tolerance is None:
        tolerance = 0.01 * clips.config.size
    B, F = positions.shape[:2]
    seen = np.ones((B, F), bool)
    if found is not None:
        found = np.asarray(found, bool)
        rows = np.arange(B)
        seen = found[rows, :, clips.agent] & (clips.target_is_obstacle[:, None]
                                              | found[rows, :, np.minimum(clips.target, found.shape[2] - 1)])
    touching = (contact_gaps(positions, clips) <= tolerance) & seen  # (B, F)
    if F >= 3:
        paths, valid = _between_frames(positions, clips)
        # an interval counts when the three frames used for its extrapolation were tracked
        seen3 = seen[:, :-2] & seen[:, 1:-1] & seen[:, 2:]  # (B, F-2)
        valid[:, 0, 1:] &= seen3
        valid[:, 1, :-1] &= seen3
        hit = (contact_gaps(paths, clips) <= tolerance).any(-1) & valid  # (B, 2, F-1)
        return touching.any(1) | hit.any((1, 2))
    return touching.any(1)


# ----------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------

def evaluate(predict_fn, clips: ClipBatch, num_given: int = 8, batch_size: int = 64) -> dict:
    """Score predict_fn(context (B, F_given, H, W, 3) uint8, clips, num_future) -> (B, F_future, H, W, 3) uint8.

    predict_fn gets the ClipBatch for its metadata (radii, obstacles, ...) and must not look at frames past
    the context. The contact read-out uses true positions for the given frames and tracked positions for
    the predicted ones.
    """
    F = clips.frames.shape[1]
    if not isinstance(num_given, (int, np.integer)) or not 1 <= num_given < F:
        raise ValueError(f"num_given must be an int in [1, {F - 1}], got {num_given!r}")
    num_future = F - num_given
    errors, lost, psnrs, ssims, readouts = [], [], [], [], []
    for start in range(0, len(clips), batch_size):
        part = clips.select(slice(start, start + batch_size))
        context = part.frames[:, :num_given]
        pred = np.asarray(predict_fn(context, part, num_future))
        expected = (len(part), num_future) + part.frames.shape[2:]
        if pred.shape != expected or pred.dtype != np.uint8:
            raise ValueError(f"predict_fn must return uint8 {expected}, got {pred.dtype} {pred.shape}")
        truth = part.frames[:, num_given:]
        error, lost_frac = position_errors(pred, part.positions[:, num_given:], part.present)
        errors.append(error), lost.append(lost_frac)
        psnrs.append(psnr(pred, truth)), ssims.append(ssim(pred, truth))
        tracked, found = track_balls(pred)
        positions = np.concatenate([part.positions[:, :num_given], tracked[:, :, :part.positions.shape[2]]], 1)
        found = np.concatenate([np.ones_like(found[:, :1]).repeat(num_given, 1), found], 1)
        readouts.append(contact_readout(positions, part, found) == part.contact)
    errors, psnrs, ssims = np.concatenate(errors), np.concatenate(psnrs), np.concatenate(ssims)
    return dict(
        position_error_per_step=errors.mean(0), position_error=float(errors.mean()),
        lost_fraction=float(np.concatenate(lost).mean()), contact_accuracy=float(np.concatenate(readouts).mean()),
        psnr_per_step=psnrs.mean(0), psnr=float(psnrs.mean()), ssim_per_step=ssims.mean(0), ssim=float(ssims.mean()),
        num_clips=len(clips))


def format_table(results: dict) -> str:
    """Printable text of a baseline_table() result (one row per scenario and method)."""
    header = f"{'scenario':<11}{'method':<22}{'pos err px':>11}{'last-step':>10}{'lost':>7}{'contact':>9}" \
             f"{'PSNR':>7}{'SSIM':>7}"
    lines = [header, "-" * len(header)]
    for scenario, methods in results.items():
        for name, r in methods.items():
            lines.append(f"{scenario:<11}{name:<22}{r['position_error']:>11.2f}{r['position_error_per_step'][-1]:>10.2f}"
                         f"{r['lost_fraction']:>7.2f}{r['contact_accuracy']:>9.2f}{r['psnr']:>7.1f}{r['ssim']:>7.3f}")
    return "\n".join(lines)


def to_jsonable(value):
    """Results (nested dicts of numpy arrays and scalars) as plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
