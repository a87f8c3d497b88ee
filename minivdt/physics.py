"""Lesson 1 — notebooks/01_world.ipynb. The physics under world.py's scenarios: exact free flight under gravity,
then ball-ball, ball-block, wall and floor contacts with restitution, and floor friction, in sub-steps.

Everything is in box units (the box is 1 x 1, y down) and vectorised with numpy over a batch of clips; the mass of a
ball is its area (radius squared). world.make_clips turns the result into pixels and frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

MAX_BALLS = 3  # ball slots: 0 = agent (red), 1 = target ball (green), 2 = distractor (blue)
MAX_OBSTACLES = 1  # one upright "cylinder" block (a rectangle in side view)
AGENT = 0  # the agent is always ball slot 0
CONTACT_EPS = 1e-6  # box units; "touching" in the simulator means overlap >= -CONTACT_EPS


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


def _substep(pos, vel, radius, present, rect, rect_present, cfg, dt):
    """One semi-analytic step: exact free flight under gravity, then ball, block, wall and floor contacts."""
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
                          ((0.0, 1.0), radius - pos[..., 1]), ((0.0, -1.0), pos[..., 1] + radius - cfg.floor_y)):
        pos, vel = _resolve(pos, vel, np.broadcast_to(np.array(normal), pos.shape), depth,
                            present & (depth > 0), e, g)

    # floor friction: constant deceleration of the horizontal speed of balls resting on / touching the floor
    on_floor = present & (pos[..., 1] + radius >= cfg.floor_y - CONTACT_EPS)
    vx = vel[..., 0]
    vel[..., 0] = np.where(on_floor, np.sign(vx) * np.maximum(np.abs(vx) - cfg.friction * g * dt, 0.0), vx)
    return pos, vel, touching, touching_block


def simulate(state, cfg):
    """Run the physics; return positions/velocities (B, F, K, 2) in box units and the contact labels."""
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
            for _ in range(cfg.substeps):
                pos, vel, touching, touching_block = _substep(pos, vel, radius, present, rect, rect_present,
                                                              cfg, dt)
                contact_frame[(contact_frame < 0) & agent_touches(touching, touching_block)] = f
        positions[:, f], velocities[:, f] = pos, vel
    return positions, velocities, contact_frame
