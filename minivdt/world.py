"""Lesson 1 — notebooks/01_world.ipynb. A tiny 2-D side-view physics world (balls, floor, walls, a block), its
scenarios and contact labels; physics.py moves the balls and render.py draws the frames.

The five SCENARIOS are deterministic: the first frames fix the future. The STOCHASTIC_SCENARIOS (Lesson 9) have a
rough floor whose bounces turn by a random angle drawn from a seed of their own, so the same past has many futures
(minivdt.futures draws them).

Physics runs in *box units* (the box is 1 x 1, y down) so that every parameter means the same thing at
32x32 and 64x64; positions and velocities are returned in pixels (px, px/frame). Everything is vectorised
with numpy over a batch of clips, so ten thousand clips take seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .physics import AGENT, MAX_BALLS, MAX_OBSTACLES, WorldConfig, check_config, simulate
from .render import (BACKGROUND_COLOR, BALL_COLOR_NAMES, BALL_COLORS, FLOOR_COLOR, OBSTACLE_COLOR,  # noqa: F401
                     STATIC_COLORS, render)

SCENARIOS = ("drop", "projectile", "roll", "collide", "mixed")  # deterministic: the default everywhere
STOCHASTIC_SCENARIOS = ("bounce",)  # a rough floor: the future is uncertain (Lesson 9)
ALL_SCENARIOS = SCENARIOS + STOCHASTIC_SCENARIOS

NUM_UNIFORMS = 24  # random numbers drawn per clip; scenarios read fixed columns of them


@dataclass
class Clip:
    """One simulated clip: frames plus the ground-truth state behind them (pixels, y down)."""

    frames: np.ndarray  # (F, H, W, 3) uint8
    positions: np.ndarray  # (F, K, 2) float32 px
    velocities: np.ndarray  # (F, K, 2) float32 px/frame
    radii: np.ndarray  # (K,) float32 px
    present: np.ndarray  # (K,) bool
    colors: np.ndarray  # (K, 3) uint8
    obstacles: np.ndarray  # (M, 4) float32 px rectangles [x0, y0, x1, y1]
    obstacle_present: np.ndarray  # (M,) bool
    agent: int  # ball slot of the agent
    target: int  # ball slot, or obstacle index when target_is_obstacle
    target_is_obstacle: bool
    contact: bool  # agent touches target at some point of the clip
    contact_frame: int  # first frame at (or just before) which they touch; -1 if never
    scenario: str  # for "mixed" clips, the sub-scenario actually simulated
    seed: int
    rough_floor: bool  # bounces on the floor turn by a random angle (Lesson 9)
    config: WorldConfig = field(default_factory=WorldConfig, repr=False)


@dataclass
class ClipBatch:
    """A batch of clips with a leading B axis on every array field of Clip."""

    frames: np.ndarray  # (B, F, H, W, 3) uint8
    positions: np.ndarray  # (B, F, K, 2)
    velocities: np.ndarray  # (B, F, K, 2)
    radii: np.ndarray  # (B, K)
    present: np.ndarray  # (B, K)
    colors: np.ndarray  # (K, 3)
    obstacles: np.ndarray  # (B, M, 4)
    obstacle_present: np.ndarray  # (B, M)
    agent: np.ndarray  # (B,) int
    target: np.ndarray  # (B,) int
    target_is_obstacle: np.ndarray  # (B,) bool
    contact: np.ndarray  # (B,) bool
    contact_frame: np.ndarray  # (B,) int
    scenario: np.ndarray  # (B,) str
    seed: np.ndarray  # (B,) int
    rough_floor: np.ndarray  # (B,) bool
    config: WorldConfig = field(default_factory=WorldConfig, repr=False)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> Clip:
        return Clip(
            frames=self.frames[i], positions=self.positions[i], velocities=self.velocities[i],
            radii=self.radii[i], present=self.present[i], colors=self.colors, obstacles=self.obstacles[i],
            obstacle_present=self.obstacle_present[i], agent=int(self.agent[i]), target=int(self.target[i]),
            target_is_obstacle=bool(self.target_is_obstacle[i]), contact=bool(self.contact[i]),
            contact_frame=int(self.contact_frame[i]), scenario=str(self.scenario[i]), seed=int(self.seed[i]),
            rough_floor=bool(self.rough_floor[i]), config=self.config)

    def select(self, index) -> "ClipBatch":
        """Sub-batch by an index array or slice."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return ClipBatch(**{k: (v if k in ("colors", "config") else v[index]) for k, v in fields.items()})


# ----------------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------------

def _check_seed(seed, name="seed") -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return int(seed)


WORLD_FIXED = ("size", "num_frames")  # set by the model (its frame size and clip length), not by a world override


def make_world(overrides: dict | None = None, **fixed) -> WorldConfig:
    """A WorldConfig from a dict of field overrides (e.g. a training run's `world`); unknown keys and bad values are
    errors that name the key and what it accepts."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise TypeError(f"world must be a dict of WorldConfig fields, got {type(overrides).__name__}")
    names = [f.name for f in dataclasses.fields(WorldConfig) if f.name not in WORLD_FIXED]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise ValueError(f"world: unknown key {unknown[0]!r}; the keys are {', '.join(names)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in {**overrides, **fixed}.items()}
    try:
        return WorldConfig(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"world: {error}") from None


def _check_scenario(scenario) -> str:
    if scenario not in ALL_SCENARIOS:
        raise ValueError(f"scenario must be one of {ALL_SCENARIOS}, got {scenario!r}")
    return scenario


# ----------------------------------------------------------------------------------------------------------
# Scenarios: map per-clip uniforms u (B, NUM_UNIFORMS) to initial states in box units
# ----------------------------------------------------------------------------------------------------------

def _lerp(low, high, u):
    return low + (high - low) * u


def _empty_state(B, cfg, u):
    r = _lerp(cfg.radius_range[0], cfg.radius_range[1], u[:, 0:MAX_BALLS])  # (B, K)
    return dict(
        pos=np.zeros((B, MAX_BALLS, 2)), vel=np.zeros((B, MAX_BALLS, 2)), radius=r,
        present=np.zeros((B, MAX_BALLS), bool), rect=np.zeros((B, MAX_OBSTACLES, 4)),
        rect_present=np.zeros((B, MAX_OBSTACLES), bool),
        target=np.zeros(B, np.int64), target_is_obstacle=np.zeros(B, bool), rough=np.zeros(B, bool))


def _block(s, cx, width, height, cfg):
    """Put the upright block (obstacle 0) on the floor, centred at cx and kept inside the box."""
    cx = np.clip(cx, width / 2, 1 - width / 2)
    s["rect"][:, 0] = np.stack([cx - width / 2, cfg.floor_y - height, cx + width / 2,
                                np.full_like(cx, cfg.floor_y)], axis=-1)
    s["rect_present"][:, 0] = True
    s["target_is_obstacle"][:] = True


def _mirror(s, flip):
    """Mirror the scene left-right for clips where flip is True."""
    s["pos"][flip, :, 0] = 1 - s["pos"][flip, :, 0]
    s["vel"][flip, :, 0] *= -1
    x0, x1 = s["rect"][flip, :, 0].copy(), s["rect"][flip, :, 2].copy()
    s["rect"][flip, :, 0], s["rect"][flip, :, 2] = 1 - x1, 1 - x0
    s["rect"][~s["rect_present"]] = 0.0


def _inside(s, cfg):
    """Clamp starting positions so every ball starts inside the walls and above the floor."""
    r = s["radius"]
    s["pos"][..., 0] = np.clip(s["pos"][..., 0], r, 1 - r)
    s["pos"][..., 1] = np.clip(s["pos"][..., 1], r, cfg.floor_y - r)
    s["pos"][~s["present"]] = 0.0
    return s


def _init_drop(u, cfg):
    """The agent falls from high up, bounces on the floor, and may land on or bounce into the block."""
    s = _empty_state(len(u), cfg, u)
    s["present"][:, AGENT] = True
    x = _lerp(0.2, 0.8, u[:, 3])
    s["pos"][:, AGENT] = np.stack([x, _lerp(0.1, 0.25, u[:, 4])], -1)
    s["vel"][:, AGENT] = np.stack([_lerp(-0.025, 0.025, u[:, 5]), _lerp(-0.05, 0.0, u[:, 6])], -1)
    width, height = _lerp(0.1, 0.2, u[:, 7]), _lerp(0.15, 0.35, u[:, 8])
    _block(s, x + _lerp(-0.4, 0.4, u[:, 9]), width, height, cfg)
    return _inside(s, cfg)


def _init_projectile(u, cfg):
    """The agent is thrown up and sideways in a parabolic arc towards the block."""
    s = _empty_state(len(u), cfg, u)
    s["present"][:, AGENT] = True
    r = s["radius"][:, AGENT]
    s["pos"][:, AGENT] = np.stack([_lerp(0.1, 0.25, u[:, 3]), np.minimum(_lerp(0.5, 0.8, u[:, 4]),
                                                                          cfg.floor_y - r)], -1)
    s["vel"][:, AGENT] = np.stack([_lerp(0.01, 0.06, u[:, 5]), _lerp(-0.12, -0.05, u[:, 6])], -1)
    _block(s, _lerp(0.5, 0.95, u[:, 9]), _lerp(0.08, 0.16, u[:, 7]), _lerp(0.12, 0.4, u[:, 8]), cfg)
    _mirror(s, u[:, 10] < 0.5)
    return _inside(s, cfg)


def _init_roll(u, cfg):
    """The agent rolls along the floor, slowed by friction, towards the block."""
    s = _empty_state(len(u), cfg, u)
    s["present"][:, AGENT] = True
    r = s["radius"][:, AGENT]
    x = _lerp(0.08, 0.25, u[:, 3])
    s["pos"][:, AGENT] = np.stack([x, cfg.floor_y - r], -1)
    s["vel"][:, AGENT, 0] = _lerp(0.03, 0.08, u[:, 5])
    width = _lerp(0.08, 0.16, u[:, 7])
    _block(s, x + r + _lerp(0.2, 0.7, u[:, 9]) + width / 2, width, _lerp(0.2, 0.4, u[:, 8]), cfg)
    _mirror(s, u[:, 10] < 0.5)
    return _inside(s, cfg)


def _init_collide(u, cfg):
    """The agent (rolling or thrown) and the target ball move towards each other and may meet."""
    s = _empty_state(len(u), cfg, u)
    s["present"][:, :2] = True
    r = s["radius"]
    airborne = u[:, 11] < 0.4
    y_agent = np.where(airborne, _lerp(0.45, 0.75, u[:, 4]), cfg.floor_y - r[:, AGENT])
    s["pos"][:, AGENT] = np.stack([_lerp(0.05, 0.2, u[:, 3]), y_agent], -1)
    s["vel"][:, AGENT] = np.stack([_lerp(0.02, 0.07, u[:, 5]),
                                   np.where(airborne, _lerp(-0.06, 0.0, u[:, 6]), 0.0)], -1)
    s["pos"][:, 1] = np.stack([_lerp(0.65, 0.92, u[:, 12]), cfg.floor_y - r[:, 1]], -1)
    s["vel"][:, 1, 0] = _lerp(-0.04, 0.015, u[:, 13])
    s["target"][:] = 1
    _mirror(s, u[:, 10] < 0.5)
    return _inside(s, cfg)


def _init_bounce(u, cfg):
    """Lesson 9. The agent is thrown so that it first lands on the rough floor after the 8 given frames; where the
    random bounce sends it decides whether it reaches the target ball resting further along the floor."""
    s = _empty_state(len(u), cfg, u)
    s["present"][:, :2] = True
    s["rough"][:] = True
    r = s["radius"]
    s["pos"][:, AGENT] = np.stack([_lerp(0.06, 0.22, u[:, 3]), _lerp(0.3, 0.5, u[:, 4])], -1)
    s["vel"][:, AGENT] = np.stack([_lerp(0.015, 0.035, u[:, 5]), _lerp(-0.09, -0.05, u[:, 6])], -1)
    s["pos"][:, 1] = np.stack([_lerp(0.52, 0.8, u[:, 12]), cfg.floor_y - r[:, 1]], -1)
    s["target"][:] = 1
    _mirror(s, u[:, 10] < 0.5)
    return _inside(s, cfg)


_SIMPLE_SCENARIOS = {"drop": _init_drop, "projectile": _init_projectile, "roll": _init_roll,
                     "collide": _init_collide}


def _init_mixed(u, cfg):
    """A random one of the other scenarios, half the time with a third (distractor) ball dropped in."""
    names = list(_SIMPLE_SCENARIOS)
    choice = np.minimum((u[:, 15] * len(names)).astype(int), len(names) - 1)
    states = [_SIMPLE_SCENARIOS[name](u, cfg) for name in names]
    s = {key: np.choose(choice.reshape((-1,) + (1,) * (value.ndim - 1)), [st[key] for st in states])
         for key, value in states[0].items()}
    # distractor: slot 2, dropped from the upper part of the box unless it would overlap anything
    r = s["radius"][:, 2]
    pos = np.stack([_lerp(0.1, 0.9, u[:, 16]), _lerp(0.1, 0.35, u[:, 17])], -1)
    gaps = np.linalg.norm(s["pos"][:, :2] - pos[:, None], axis=-1) - s["radius"][:, :2] - r[:, None]
    block_top = np.where(s["rect_present"][:, 0], s["rect"][:, 0, 1], 1.0)
    free = np.all((gaps > 0.02) | ~s["present"][:, :2], axis=1) & (pos[:, 1] + r < block_top - 0.02)
    add = (u[:, 18] < 0.5) & free
    s["present"][:, 2] = add
    s["pos"][:, 2] = np.where(add[:, None], pos, 0.0)
    s["vel"][:, 2] = np.where(add[:, None], np.stack([_lerp(-0.03, 0.03, u[:, 19]), np.zeros_like(r)], -1), 0.0)
    return _inside(s, cfg), np.array(names)[choice]


def _initial_states(scenario, seeds, cfg):
    # each clip's randomness depends only on (seed, scenario), so make_clip(s) == make_clips([s])[0]
    key = ALL_SCENARIOS.index(scenario)
    u = np.stack([np.random.default_rng([seed, key]).random(NUM_UNIFORMS) for seed in seeds])  # (B, U)
    if scenario == "mixed":
        state, names = _init_mixed(u, cfg)
    elif scenario == "bounce":
        state, names = _init_bounce(u, cfg), np.full(len(seeds), scenario)
    else:
        state, names = _SIMPLE_SCENARIOS[scenario](u, cfg), np.full(len(seeds), scenario)
    state["rough"] |= bool(cfg.rough_floor)
    return state, names


def bounce_turns(scenario, seeds, cfg: WorldConfig, rough, future: int = 0, num_given: int | None = None):
    """The random turn (radians) of every possible floor bounce: (B, F, substeps, K), zero on smooth floors.

    The angles come from seeds of their own, (clip seed, scenario, draw), never from the frames, so nothing in a
    clip's past tells its future's draw. future = 0 is the clip as make_clips draws it; future = d >= 1 redraws the
    angles of frames num_given.. (the predicted ones) from draw d and keeps those before, so the past is the same.
    """
    B, F, K = len(seeds), cfg.num_frames, MAX_BALLS
    turns = np.zeros((B, F, cfg.substeps, K))
    key = ALL_SCENARIOS.index(scenario)
    limit = np.deg2rad(cfg.bounce_angle)

    def draw(seed, d):  # (F, substeps, K) angles in [-limit, limit]
        return limit * (2 * np.random.default_rng([int(seed), key, F, d]).random((F, cfg.substeps, K)) - 1)

    for b in np.flatnonzero(rough):
        turns[b] = draw(seeds[b], 0)
        if future:
            turns[b, num_given:] = draw(seeds[b], future)[num_given:]
    return turns


# ----------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------

def make_clips(scenario: str, seeds, config: WorldConfig | None = None, render_chunk: int = 256,
               future: int = 0, num_given: int | None = None) -> ClipBatch:
    """Simulate and render one clip per seed, vectorised over the batch (deterministic per (scenario, seed)).

    future, num_given: on a rough floor, future d >= 1 redraws the bounces after frame num_given (bounce_turns);
    minivdt.futures uses it to draw the many futures of one past.
    """
    _check_scenario(scenario)
    cfg = check_config(config)
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a sequence of ints, got a single {type(seeds).__name__}; "
                        f"use make_clip for one clip")
    seeds = [_check_seed(s, "seeds[i]") for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    if isinstance(future, bool) or not isinstance(future, (int, np.integer)) or future < 0:
        raise ValueError(f"future must be an int >= 0, got {future!r}")
    if future and (isinstance(num_given, bool) or not isinstance(num_given, (int, np.integer))
                   or not 1 <= num_given < cfg.num_frames):
        raise ValueError(f"num_given must be an int in [1, {cfg.num_frames - 1}] to redraw a future, got {num_given!r}")

    state, sub_scenarios = _initial_states(scenario, seeds, cfg)
    turns = bounce_turns(scenario, seeds, cfg, state["rough"], future, num_given) if state["rough"].any() else None
    positions, velocities, contact_frame = simulate(state, cfg, turns)

    S = cfg.size
    positions_px = (positions * S).astype(np.float32)
    radii_px = (state["radius"] * S).astype(np.float32)
    rect_px = (state["rect"] * S).astype(np.float32)
    frames = np.concatenate([
        render(positions_px[i:i + render_chunk], radii_px[i:i + render_chunk], state["present"][i:i + render_chunk],
               rect_px[i:i + render_chunk], cfg, rough_floor=state["rough"][i:i + render_chunk])
        for i in range(0, len(seeds), render_chunk)])
    return ClipBatch(
        frames=frames, positions=positions_px, velocities=(velocities * S).astype(np.float32),
        radii=radii_px, present=state["present"].copy(), colors=BALL_COLORS.copy(), obstacles=rect_px,
        obstacle_present=state["rect_present"].copy(), agent=np.full(len(seeds), AGENT),
        target=state["target"].copy(), target_is_obstacle=state["target_is_obstacle"].copy(),
        contact=contact_frame >= 0, contact_frame=contact_frame, scenario=sub_scenarios,
        seed=np.array(seeds, dtype=np.int64), rough_floor=state["rough"].copy(), config=cfg)


def make_clip(scenario: str, seed: int, config: WorldConfig | None = None) -> Clip:
    """Simulate and render one clip."""
    _check_seed(seed)
    return make_clips(scenario, [seed], config)[0]


def write_preview(out_dir, scenarios=ALL_SCENARIOS, seed: int = 0, config: WorldConfig | None = None,
                  num_rows: int = 4, scale: int = 8) -> list[Path]:
    """For each scenario write <scenario>.mp4 (seed `seed`, upscaled) and <scenario>.png (num_rows seeds x frames)."""
    from . import viz

    cfg = check_config(config)
    _check_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for scenario in scenarios:
        batch = make_clips(_check_scenario(scenario), range(seed, seed + num_rows), cfg)
        video = batch.frames[0].repeat(scale, axis=1).repeat(scale, axis=2)
        paths.append(viz.save_video(out_dir / f"{scenario}.mp4", video))
        paths.append(viz.save_image(out_dir / f"{scenario}.png", viz.frame_grid(batch.frames, scale=max(1, scale // 2))))
    return paths
