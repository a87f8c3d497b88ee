"""Lesson 1 — notebooks/01_world.ipynb. The physics under world.py's scenarios: exact free flight under gravity,
then ball-ball, ball-block, wall and floor contacts with restitution, and floor friction, in sub-steps.

Everything is in box units (the box is 1 x 1, y down) and vectorised with numpy over a batch of clips; the mass of a
ball is its area (radius squared). world.make_clips turns the result into pixels and frames.

A scene may have a rough (gravel) floor: a bounce on it leaves in a direction turned by a random angle, so the future
of such a clip is not fixed by its past (Lesson 9). The angles come in as an array, drawn by world.py from a seed the
frames cannot reveal; without a rough floor the physics is deterministic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

MAX_BALLS = 3  # ball slots: 0 = agent (red), 1 = target ball (green), 2 = distractor (blue)
MAX_OBSTACLES = 1  # one upright "cylinder" block (a rectangle in side view)
AGENT = 0  # the agent is always ball slot 0
CONTACT_EPS = 1e-6  # box units; "touching" in the simulator means overlap >= -CONTACT_EPS
MIN_BOUNCE_SPEED = 0.005  # box units / frame: slower floor contacts (rolling, resting) are not random bounces
MAX_BOUNCE_TILT = np.deg2rad(75.0)  # a turned bounce still leaves the floor at least 15 degrees above it


# ----------------------------------------------------------------------------------------------------------
# The world's constants
# ----------------------------------------------------------------------------------------------------------

@dataclass
class WorldConfig:
    """Size of the rendered clips and the physical constants (lengths in box units, time in frames)."""

    size: int = 32  # H = W = size pixels
    num_frames: int = 16
    substeps: int = 8  # physics steps per frame (small steps keep collisions stable)
    gravity: float = 0.025  # box heights per frame^2 (a drop from near the top lands after ~8 frames)
    restitution: float = 0.8  # fraction of normal speed kept in a bounce (1 = perfectly elastic)
    friction: float = 0.12  # floor friction: a ball on the floor decelerates by friction * gravity
    floor_height: float = 0.0625  # thickness of the floor band at the bottom (2 px at 32x32)
    radius_range: tuple[float, float] = (0.07, 0.11)  # ball radii, fraction of the box (2.2-3.5 px at 32)
    # Lesson 9: a rough (gravel) floor turns every bounce on it by a random angle in [-bounce_angle, bounce_angle]
    # degrees. Only scenes with a rough floor are random: the "bounce" scenario's, or every scene if rough_floor.
    bounce_angle: float = 35.0
    rough_floor: bool = False  # True: every scenario gets a rough floor (a stochastic variant of the world)

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 16:
            raise ValueError(f"size must be an int >= 16, got {self.size!r}")
        if isinstance(self.num_frames, bool) or not isinstance(self.num_frames, (int, np.integer)) \
                or self.num_frames < 2:
            raise ValueError(f"num_frames must be an int >= 2, got {self.num_frames!r}")
        if not isinstance(self.substeps, (int, np.integer)) or self.substeps < 1:
            raise ValueError(f"substeps must be a positive int, got {self.substeps!r}")
        for name in ("gravity", "restitution", "friction", "floor_height", "bounce_angle"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(self.radius_range, (tuple, list)) or len(self.radius_range) != 2 \
                or not all(isinstance(r, (int, float)) and math.isfinite(r) for r in self.radius_range):
            raise ValueError(f"radius_range must be two finite numbers (low, high), got {self.radius_range!r}")
        if not 0.0 <= self.restitution <= 1.0:
            raise ValueError(f"restitution must be in [0, 1], got {self.restitution!r}")
        if self.gravity < 0 or self.friction < 0:
            raise ValueError(f"gravity and friction must be >= 0, got {self.gravity!r}, {self.friction!r}")
        if not 0.0 <= self.bounce_angle <= 90.0:
            raise ValueError(f"bounce_angle must be in [0, 90] degrees, got {self.bounce_angle!r}")
        if not isinstance(self.rough_floor, (bool, np.bool_)):
            raise ValueError(f"rough_floor must be true or false, got {self.rough_floor!r}")
        if not 0.0 < self.floor_height < 0.5:
            raise ValueError(f"floor_height must be in (0, 0.5), got {self.floor_height!r}")
        low, high = self.radius_range
        if not 0.0 < low <= high <= 0.15:
            raise ValueError(
                f"radius_range must satisfy 0 < low <= high <= 0.15 (box fractions) so balls fit in the box, "
                f"got {self.radius_range!r}")
        if high * self.size < 1.0:
            raise ValueError(f"radius_range gives balls under 1 px at size {self.size}, got {self.radius_range!r}")

    @property
    def floor_y(self) -> float:
        """Floor surface in box units (y down)."""
        return 1.0 - self.floor_height



def check_config(config) -> WorldConfig:
    """config, or the default world when it is None."""
    if config is None:
        return WorldConfig()
    if not isinstance(config, WorldConfig):
        raise TypeError(f"config must be a WorldConfig, got {type(config).__name__}")
    return config


# ----------------------------------------------------------------------------------------------------------
# Physics (box units; mass of a ball ~ its area)
# ----------------------------------------------------------------------------------------------------------

def _resolve(pos, vel, normal, depth, hit, e, g):
    """Push balls out along `normal` by `depth` where `hit`, bouncing the normal velocity with restitution e.

    The push can lift a ball (gaining potential energy); that energy is taken from its speed, so a
    collision never creates energy: the outgoing normal speed is e * (speed it had at the contact point).
    pos, vel, normal: (..., 2); depth, hit: (...).
    """
    shift = normal * np.where(hit, depth, 0.0)[..., None]
    pos = pos + shift
    lift = -g * shift[..., 1]  # potential energy gained per unit mass (y is down)
    vn = np.sum(vel * normal, axis=-1)  # < 0: approaching the surface
    vt = vel - vn[..., None] * normal
    approaching = vn < 0
    speed2 = vn ** 2 - 2 * lift  # normal speed^2 at the contact point
    vn_out = np.where(approaching, e, 1.0) * np.sqrt(np.maximum(speed2, 0.0))
    deficit = np.maximum(-speed2, 0.0)  # energy the normal motion could not pay, taken from the tangent
    vt2 = np.sum(vt ** 2, axis=-1)
    vt_scale = np.sqrt(np.maximum(vt2 - deficit, 0.0) / np.maximum(vt2, 1e-30))
    new_vel = vn_out[..., None] * normal + vt * vt_scale[..., None]
    vel = np.where(hit[..., None], new_vel, vel)
    return pos, vel


def _turn_bounce(vel, bounced, turn):
    """Turn the outgoing velocity of a floor bounce by `turn` radians, keeping its speed (so restitution still sets
    the energy kept). The angle is measured from the floor's normal and clipped to MAX_BOUNCE_TILT.
    vel (B, K, 2); bounced, turn (B, K)."""
    speed = np.linalg.norm(vel, axis=-1)
    tilt = np.clip(np.arctan2(vel[..., 0], -vel[..., 1]) + turn, -MAX_BOUNCE_TILT, MAX_BOUNCE_TILT)
    turned = np.stack([speed * np.sin(tilt), -speed * np.cos(tilt)], -1)  # y is down: leaving the floor is -y
    return np.where(bounced[..., None], turned, vel)


def _substep(pos, vel, radius, present, rect, rect_present, cfg, dt, turn=None):
    """One semi-analytic step: exact free flight under gravity, then ball, block, wall and floor contacts.

    turn (B, K) radians or None: how far a bounce on a rough floor turns each ball in this step (0 on smooth floors).
    """
    g, e = cfg.gravity, cfg.restitution
    moving = present[..., None]
    pos = np.where(moving, pos + vel * dt + np.array([0.0, 0.5 * g * dt * dt]), pos)
    vel = np.where(moving, vel + np.array([0.0, g * dt]), vel)
    mass = radius ** 2
    touching = np.zeros(present.shape[:1] + (MAX_BALLS, MAX_BALLS), bool)  # (B, K, K)

    # ball-ball: impulse along the line of centres, then separate them about their centre of mass
    for i in range(MAX_BALLS):
        for j in range(i + 1, MAX_BALLS):
            d = pos[:, j] - pos[:, i]
            dist = np.linalg.norm(d, axis=-1)
            overlap = radius[:, i] + radius[:, j] - dist
            both = present[:, i] & present[:, j]
            touching[:, i, j] = touching[:, j, i] = both & (overlap >= -CONTACT_EPS)
            hit = both & (overlap > 0)
            n = d / np.maximum(dist, 1e-12)[:, None]
            v_rel = np.sum((vel[:, j] - vel[:, i]) * n, axis=-1)
            inv_mass = 1 / mass[:, i] + 1 / mass[:, j]
            impulse = np.where(hit & (v_rel < 0), -(1 + e) * v_rel / inv_mass, 0.0)
            vel[:, i] -= (impulse / mass[:, i])[:, None] * n
            vel[:, j] += (impulse / mass[:, j])[:, None] * n
            push = np.where(hit, overlap, 0.0) / (mass[:, i] + mass[:, j])
            pos[:, i] -= (push * mass[:, j])[:, None] * n
            pos[:, j] += (push * mass[:, i])[:, None] * n

    # ball-block: nearest point of the rectangle to the centre
    touching_block = np.zeros(present.shape[:1] + (MAX_BALLS, MAX_OBSTACLES), bool)  # (B, K, M)
    for m in range(MAX_OBSTACLES):
        x0, y0, x1, y1 = (rect[:, m, c][:, None] for c in range(4))  # (B, 1) each
        nearest = np.stack([np.clip(pos[..., 0], x0, x1), np.clip(pos[..., 1], y0, y1)], -1)
        d = pos - nearest
        dist = np.linalg.norm(d, axis=-1)
        n = np.where(dist[..., None] > 1e-12, d / np.maximum(dist, 1e-12)[..., None], np.array([0.0, -1.0]))
        active = present & rect_present[:, m, None]
        touching_block[:, :, m] = active & (dist <= radius + CONTACT_EPS)
        pos, vel = _resolve(pos, vel, n, radius - dist, active & (dist < radius), e, g)

    # walls (the image border), ceiling and floor
    for normal, depth in (((1.0, 0.0), radius - pos[..., 0]), ((-1.0, 0.0), pos[..., 0] + radius - 1.0),
                          ((0.0, 1.0), radius - pos[..., 1])):
        pos, vel = _resolve(pos, vel, np.broadcast_to(np.array(normal), pos.shape), depth,
                            present & (depth > 0), e, g)
    depth = pos[..., 1] + radius - cfg.floor_y
    on_floor_hit = present & (depth > 0)
    bounced = on_floor_hit & (vel[..., 1] > MIN_BOUNCE_SPEED)  # falling onto the floor fast enough to bounce
    pos, vel = _resolve(pos, vel, np.broadcast_to(np.array((0.0, -1.0)), pos.shape), depth, on_floor_hit, e, g)
    if turn is not None:
        vel = _turn_bounce(vel, bounced & (turn != 0), turn)  # turn == 0: a smooth floor

    # floor friction: constant deceleration of the horizontal speed of balls resting on / touching the floor
    on_floor = present & (pos[..., 1] + radius >= cfg.floor_y - CONTACT_EPS)
    vx = vel[..., 0]
    vel[..., 0] = np.where(on_floor, np.sign(vx) * np.maximum(np.abs(vx) - cfg.friction * g * dt, 0.0), vx)
    return pos, vel, touching, touching_block


def simulate(state, cfg, turns=None):
    """Run the physics; return positions/velocities (B, F, K, 2) in box units and the contact labels.

    turns (B, F, substeps, K) radians or None: the random turn of every possible floor bounce, per sub-step of
    the physics that leads to frame f (turns[:, 0] is unused: frame 0 is the initial state).
    """
    pos, vel = state["pos"].copy(), state["vel"].copy()
    radius, present = state["radius"], state["present"]
    rect, rect_present = state["rect"], state["rect_present"]
    B, F = len(pos), cfg.num_frames
    rows = np.arange(B)
    agent, target, on_block = np.full(B, AGENT), state["target"], state["target_is_obstacle"]

    def agent_touches(touching, touching_block):
        return np.where(on_block, touching_block[rows, agent, np.minimum(target, MAX_OBSTACLES - 1)],
                        touching[rows, agent, target])

    positions, velocities = np.zeros((B, F, MAX_BALLS, 2)), np.zeros((B, F, MAX_BALLS, 2))
    contact_frame = np.full(B, -1)
    # contact already at frame 0 (the scenarios avoid it, but the label must be honest)
    _, _, touching, touching_block = _substep(pos.copy(), vel.copy(), radius, present, rect, rect_present,
                                              dataclasses.replace(cfg, gravity=0.0), 0.0)
    contact_frame[agent_touches(touching, touching_block)] = 0
    dt = 1.0 / cfg.substeps
    for f in range(F):
        if f > 0:
            for i in range(cfg.substeps):
                turn = None if turns is None else turns[:, f, i]
                pos, vel, touching, touching_block = _substep(pos, vel, radius, present, rect, rect_present,
                                                              cfg, dt, turn)
                contact_frame[(contact_frame < 0) & agent_touches(touching, touching_block)] = f
        positions[:, f], velocities[:, f] = pos, vel
    return positions, velocities, contact_frame
