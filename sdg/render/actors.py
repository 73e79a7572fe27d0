"""Recognisable actor models built from primitives, in the actor's box frame.

Box frame: origin at the 3D box centre, x forward, y right, z up (CARLA axes), the box spanning
[-L/2, L/2] x [-W/2, W/2] x [-H/2, H/2] for size (L, W, H). Every model is designed to fill its box closely: the
body spans the full length (and the width, with mirrors/handlebars/arms), and the cabin, cargo box or head reaches
the full height, so the projected 3D box matches the rendered mask. Nothing leaves the box.

Set ``actor.attributes["render_shape"] = "box"`` to draw an actor as its plain 3D box (tests, unknown classes).
"""
from __future__ import annotations

import math

import numpy as np

from sdg.geometry import rotation_matrix
from sdg.render.kernels import (
    KIND_CYLINDER,
    KIND_ELLIPSOID,
    MAT_BUS,
    MAT_CABIN,
    MAT_CARGO,
    MAT_LAMP,
    MAT_PAINT,
    MAT_PLAIN,
    MAT_SIGN,
    MAT_WHEEL,
)
from sdg.render.primitives import PartList
from sdg.scene import Actor
from sdg.tags import CATEGORY_TAG, TAG

_WHEEL_ROT = rotation_matrix(90.0, 0.0, 0.0)  # cylinder axis (local z) -> box y
_DISC_X_ROT = rotation_matrix(0.0, 90.0, 0.0)  # cylinder axis (local z) -> box x
_MIN_DIM = 0.05

_SKIN = [(255, 220, 185), (236, 192, 150), (205, 150, 105), (160, 110, 70), (110, 75, 50), (230, 180, 130)]
_SHIRT = [(190, 40, 40), (40, 70, 150), (230, 230, 225), (35, 35, 40), (60, 130, 70), (220, 170, 40),
          (120, 60, 130), (200, 110, 40), (90, 140, 190), (150, 150, 155)]
_PANTS = [(40, 45, 70), (30, 30, 35), (90, 80, 70), (60, 75, 110), (110, 100, 80), (140, 140, 145)]
_HAIR = [(25, 20, 15), (70, 45, 25), (150, 110, 60), (200, 190, 170)]
_TL_LIT = {"red": (1.0, 0.12, 0.08), "yellow": (1.0, 0.78, 0.1), "green": (0.15, 1.0, 0.45)}
_TL_DARK = {"red": (0.22, 0.05, 0.04), "yellow": (0.22, 0.17, 0.04), "green": (0.04, 0.2, 0.09)}


def _hash(actor_id: int, salt: int) -> int:
    """Small deterministic integer hash (stable across processes)."""
    h = (int(actor_id) * 2654435761 + salt * 40503) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 2246822519) & 0xFFFFFFFF
    h ^= h >> 13
    return h


def _shade(c, k: float):
    return tuple(min(255.0, x * k) for x in c)


def actor_size(actor: Actor) -> np.ndarray:
    s = np.asarray(actor.size, dtype=np.float64).reshape(-1)
    if s.shape != (3,) or not np.all(np.isfinite(s)):
        raise ValueError(f"actor {actor.id} ({actor.type_id}): size must be 3 finite metres (L, W, H), "
                         f"got {actor.size!r}")
    return np.maximum(s, _MIN_DIM)


def add_actor_parts(pl: PartList, actor: Actor, owner: int) -> None:
    """Append the parts of `actor` (rest pose, box frame of pose index `owner`) to the template `pl`. Walking
    limbs carry swing channels (1 legs, 2 arms; see actor_swing) and traffic-light lamps their lamp index
    (see lamp_states)."""
    L, W, H = actor_size(actor)
    tag = CATEGORY_TAG.get(actor.category)
    if tag is None:
        raise ValueError(f"actor {actor.id}: unknown category {actor.category!r}; "
                         f"expected one of {sorted(CATEGORY_TAG)}")
    kw = dict(tag=tag, inst=int(actor.id), owner=owner)
    if str(actor.attributes.get("render_shape", "")) == "box":
        pl.box(-L / 2, L / 2, -W / 2, W / 2, -H / 2, H / 2, actor.color, **kw)
        return
    cat = actor.category
    if cat in ("car", "van"):
        _car(pl, actor, L, W, H, van=(cat == "van"), **kw)
    elif cat == "truck":
        _truck(pl, actor, L, W, H, **kw)
    elif cat == "bus":
        _bus(pl, actor, L, W, H, **kw)
    elif cat in ("motorcycle", "bicycle"):
        _two_wheeler(pl, actor, L, W, H, motor=(cat == "motorcycle"), **kw)
    elif cat == "pedestrian":
        _pedestrian(pl, actor, L, W, H, **kw)
    elif cat == "traffic_light":
        _traffic_light(pl, actor, L, W, H, **kw)
    elif cat == "traffic_sign":
        _traffic_sign(pl, actor, L, W, H, **kw)
    else:  # pragma: no cover - CATEGORY_TAG check above
        pl.box(-L / 2, L / 2, -W / 2, W / 2, -H / 2, H / 2, actor.color, **kw)


# ------------------------------------------------------------------------------------------------ vehicles
def _wheels(pl, xs, W, H, r, tw, **kw):
    for x in xs:
        for side in (-1.0, 1.0):
            y = side * (W / 2 - tw / 2)
            pl.add(KIND_CYLINDER, (x, y, -H / 2 + r), (r, r, tw / 2), (18, 18, 19), mat=MAT_WHEEL, rot=_WHEEL_ROT,
                   **kw)


def _lights(pl, L, W, z_mid, h, *, front=True, back=True, lamp_w=None, **kw):
    lw = lamp_w if lamp_w is not None else min(0.16 * W, 0.35)
    hh = h / 2
    for side in (-1.0, 1.0):
        y0, y1 = sorted((side * (W / 2 - 0.06), side * (W / 2 - 0.06 - lw)))
        if front:
            pl.box(L / 2 - 0.03, L / 2, y0, y1, z_mid - hh, z_mid + hh, (255, 250, 225), mat=MAT_LAMP, **kw)
        if back:
            pl.box(-L / 2, -L / 2 + 0.03, y0, y1, z_mid - hh, z_mid + hh, (200, 20, 18), mat=MAT_LAMP, **kw)


def _car(pl, actor, L, W, H, van, **kw):
    col = actor.color
    r = float(np.clip(0.22 * H, 0.12, 0.42))
    r = min(r, 0.14 * L)
    z0 = -H / 2
    body_bot = z0 + 0.5 * r
    body_top = z0 + (0.5 if van else 0.58) * H
    bw = W  # the body spans the box width (CARLA boxes include the mirrors; the body is a little flattered)
    inset = 0.02
    pl.box(-L / 2 + inset, L / 2 - inset, -bw / 2, bw / 2, body_bot, body_top, col, mat=MAT_PAINT,
           param=(0.22, 0.0, 0.0, 0.0), ao=0.55, **kw)
    # cabin: glass with body-coloured pillars and roof, reaching the full height
    if van:
        cx0, cx1 = -L / 2 + 0.08, L / 2 - 0.3 * L
    else:
        cx0, cx1 = -0.31 * L, 0.19 * L
    cw = 0.78 * bw
    pl.box(cx0, cx1, -cw / 2, cw / 2, body_top, H / 2, col, mat=MAT_CABIN,
           param=(0.06, 0.5 * (cx0 + cx1) + 0.05 * L, 0.0, 0.0), **kw)
    # mirrors on the shoulders of the body, beside the windscreen
    for side in (-1.0, 1.0):
        y0, y1 = sorted((side * (cw / 2), side * (cw / 2 + 0.09 * W)))
        pl.box(cx1 - 0.16, cx1 - 0.04, y0, y1, body_top + 0.05, body_top + 0.16, col, mat=MAT_PAINT, **kw)
    tw = min(0.24, 0.14 * W)
    ax = L / 2 - max(2.5 * r, 0.17 * L)
    _wheels(pl, (ax, -ax), W - 0.04 * W, H, r, tw, **kw)
    lz = body_top - 0.3 * (body_top - body_bot)
    _lights(pl, L, bw, lz, min(0.13, 0.25 * (body_top - body_bot)), **kw)


def _truck(pl, actor, L, W, H, **kw):
    col = actor.color
    r = float(np.clip(0.14 * H, 0.3, 0.55))
    z0 = -H / 2
    cab_len = min(2.3, 0.32 * L)
    cab_top = z0 + 0.84 * H
    cab_bot = z0 + 0.7 * r
    cab_mid = cab_bot + 0.52 * (cab_top - cab_bot)
    cw = 0.95 * W
    x_cab0 = L / 2 - cab_len
    pl.box(x_cab0, L / 2 - 0.02, -cw / 2, cw / 2, cab_bot, cab_mid, col, mat=MAT_PAINT, param=(0.25, 0, 0, 0),
           ao=0.5, **kw)
    pl.box(x_cab0, L / 2 - 0.12, -cw / 2, cw / 2, cab_mid, cab_top, col, mat=MAT_CABIN,
           param=(0.09, x_cab0 + 0.5 * cab_len - 0.3 * cab_len, 0, 0), **kw)
    cargo_bot = z0 + 2.05 * r
    cargo_col = (226, 228, 230) if _hash(actor.id, 3) % 2 else _shade(col, 1.25)
    pl.box(-L / 2 + 0.02, x_cab0 - 0.15, -W / 2, W / 2, cargo_bot, H / 2, cargo_col, mat=MAT_CARGO,
           param=(0.9, 0, 0, 0), ao=0.35, **kw)
    pl.box(-L / 2 + 0.3, x_cab0, -0.4 * W, 0.4 * W, z0 + 0.9 * r, cargo_bot, (35, 35, 38), **kw)
    tw = min(0.35, 0.14 * W)
    xs = (L / 2 - 0.5 * cab_len, -L / 2 + 1.7 * r, -L / 2 + 1.7 * r + 2.25 * r)
    _wheels(pl, xs, W - 0.06 * W, H, r, tw, **kw)
    lz = cab_bot + 0.25 * (cab_mid - cab_bot)
    _lights(pl, L, cw, lz, 0.16, back=False, **kw)
    _lights(pl, L, W, cargo_bot + 0.12, 0.14, front=False, **kw)


def _bus(pl, actor, L, W, H, **kw):
    col = actor.color
    r = float(np.clip(0.15 * H, 0.3, 0.55))
    z0 = -H / 2
    pl.box(-L / 2 + 0.02, L / 2 - 0.02, -W / 2, W / 2, z0 + 0.6 * r, H / 2, col, mat=MAT_BUS,
           param=(0.52, 0.88, 0, 0), ao=0.55, **kw)
    tw = min(0.32, 0.13 * W)
    ax_f = L / 2 - max(2.8 * r, 0.2 * L)
    ax_r = -L / 2 + max(3.2 * r, 0.24 * L)
    _wheels(pl, (ax_f, ax_r), W - 0.02, H, r, tw, **kw)
    _lights(pl, L, W, z0 + 0.6 * r + 0.35, 0.18, **kw)


def _two_wheeler(pl, actor, L, W, H, motor, **kw):
    """Frame + 2 wheels + handlebar spanning the box width + a rider (tag 13 rider) whose head reaches the top."""
    col = actor.color
    tag_vehicle = kw.pop("tag")
    vkw = dict(kw, tag=tag_vehicle)
    rkw = dict(kw, tag=TAG["rider"])
    z0 = -H / 2
    r = min(0.34 if not motor else 0.32, 0.24 * L, 0.25 * H)
    tw = 0.12 if motor else 0.045
    xr, xf = -L / 2 + r, L / 2 - r
    for x in (xr, xf):
        pl.add(KIND_CYLINDER, (x, 0.0, z0 + r), (r, r, tw / 2), (20, 20, 21), mat=MAT_WHEEL, rot=_WHEEL_ROT, **vkw)
    s = H / 1.65  # rider scale
    seat_z = z0 + (2.2 * r if motor else 2.45 * r)
    seat_x = -0.12 * L
    hb_x = xf - 0.12 * L
    hb_z = z0 + 0.62 * H
    if motor:
        pl.box(xr, xf - 0.1, -0.14, 0.14, z0 + 0.7 * r, seat_z - 0.05, col, mat=MAT_PAINT, param=(0.3, 0, 0, 0),
               **vkw)  # engine + body
        pl.box(seat_x - 0.3, seat_x + 0.25, -0.13, 0.13, seat_z - 0.08, seat_z, (25, 25, 25), **vkw)  # seat
        pl.box(seat_x + 0.25, hb_x - 0.05, -0.16, 0.16, seat_z - 0.18, seat_z + 0.06, col, mat=MAT_PAINT, **vkw)
        pl.segment((xf, 0, z0 + r), (hb_x, 0, hb_z), 0.06, 0.06, (60, 60, 62), **vkw)  # fork
        pl.box(hb_x + 0.02, hb_x + 0.12, -0.09, 0.09, hb_z - 0.22, hb_z - 0.08, (255, 250, 225), mat=MAT_LAMP, **vkw)
    else:
        bb = (seat_x + 0.1, 0.0, z0 + 1.05 * r)  # bottom bracket
        pl.segment((xr, 0, z0 + r), bb, 0.03, 0.03, col, **vkw)
        pl.segment(bb, (seat_x, 0, seat_z - 0.05), 0.04, 0.04, col, **vkw)
        pl.segment(bb, (hb_x - 0.05, 0, hb_z - 0.18), 0.045, 0.045, col, **vkw)
        pl.segment((seat_x, 0, seat_z - 0.1), (hb_x - 0.05, 0, hb_z - 0.18), 0.04, 0.04, col, **vkw)
        pl.segment((xf, 0, z0 + r), (hb_x, 0, hb_z), 0.03, 0.03, (60, 60, 62), **vkw)
        pl.box(seat_x - 0.12, seat_x + 0.1, -0.06, 0.06, seat_z - 0.05, seat_z, (25, 25, 25), **vkw)
    pl.box(hb_x - 0.03, hb_x + 0.03, -W / 2, W / 2, hb_z - 0.03, hb_z + 0.03, (40, 40, 42), **vkw)  # handlebar
    # rider
    skin = _SKIN[_hash(actor.id, 1) % len(_SKIN)]
    shirt = _SHIRT[_hash(actor.id, 2) % len(_SHIRT)]
    pants = _PANTS[_hash(actor.id, 3) % len(_PANTS)]
    head_c = (20, 20, 24) if motor else _HAIR[_hash(actor.id, 4) % len(_HAIR)]  # helmet or hair
    head_h = 0.125 * s
    head_z = H / 2 - head_h
    sh_z = head_z - head_h - 0.08 * s
    lean = (hb_x - seat_x) * (0.45 if motor else 0.55)
    hip = np.array([seat_x, 0.0, seat_z + 0.05])
    sh = np.array([seat_x + lean, 0.0, sh_z])
    pl.segment(hip, sh, 0.36 * s, 0.2 * s, shirt, **rkw)  # torso
    head_x = sh[0] + 0.06 * s
    pl.add(KIND_ELLIPSOID, (head_x, 0.0, head_z), (0.1 * s, 0.085 * s, head_h), head_c, **rkw)
    grip_y = min(W / 2 - 0.05, 0.28 * s)
    for side in (-1.0, 1.0):
        shoulder = sh + np.array([0.0, side * 0.2 * s, -0.04 * s])
        grip = np.array([hb_x, side * grip_y, hb_z + 0.02])
        pl.segment(shoulder, grip, 0.08 * s, 0.08 * s, shirt, **rkw)
        pl.add(KIND_ELLIPSOID, tuple(grip), (0.045 * s, 0.04 * s, 0.045 * s), skin, **rkw)  # hand
        h = hip + np.array([0.0, side * 0.1 * s, 0.0])
        knee = np.array([seat_x + 0.38 * s, side * 0.15 * s, seat_z + 0.02 - (0.1 * s if not motor else 0.0)])
        foot = np.array([seat_x + (0.22 if motor else 0.2) * s, side * 0.16 * s, z0 + (0.9 * r if motor else 0.85 * r)])
        pl.segment(h, knee, 0.13 * s, 0.13 * s, pants, **rkw)
        pl.segment(knee, foot, 0.11 * s, 0.11 * s, pants, **rkw)


def _pedestrian_dims(L, W, H):
    s = H / 1.75
    leg_len = 0.47 * H
    leg_t = min(0.14 * s, 0.45 * W / 2, 0.9 * L / 2)
    arm_t = min(0.085 * s, 0.25 * W)
    arm_len = 0.36 * H
    toe = min(0.9 * leg_t, L / 2)  # shoe reach in front of the leg axis
    return s, leg_len, leg_t, arm_t, arm_len, toe


def actor_swing(actor: Actor, times: np.ndarray) -> np.ndarray:
    """(T, 3) limb swing angles in radians per frame: channel 0 rigid (0), 1 legs, 2 arms. Pedestrians swing with
    the distance walked (a 1.4 m gait cycle) and an amplitude growing with speed, limited so hands and feet never
    leave the box; everything else is 0."""
    n = len(times)
    out = np.zeros((n, 3))
    if actor.category != "pedestrian" or n < 2:
        return out
    poses = np.asarray(actor.poses, dtype=np.float64)
    if len(poses) < 2:
        return out
    xy = poses[:n, :2]
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(steps)])
    speed = np.linalg.norm(np.gradient(xy, np.asarray(times[: len(xy)], dtype=np.float64), axis=0), axis=1)
    L, W, H = actor_size(actor)
    _, leg_len, leg_t, arm_t, arm_len, toe = _pedestrian_dims(L, W, H)
    leg_max = math.asin(min(max(0.0, (L / 2 - max(toe, leg_t / 2)) / leg_len), 1.0))
    arm_max = math.asin(min(max(0.0, (L / 2 - max(arm_t / 2, 0.045 * H / 1.75)) / arm_len), 1.0))
    amp = np.minimum(0.45, 0.35 * speed / 1.4)
    phase = np.sin(2.0 * math.pi * dist / 1.4)
    out[: len(xy), 1] = np.minimum(amp, leg_max) * phase
    out[: len(xy), 2] = np.minimum(0.8 * amp, arm_max) * phase
    if len(xy) < n:
        out[len(xy):] = out[len(xy) - 1]
    return out


def lamp_states(actor: Actor, n_frames: int) -> np.ndarray:
    """(T,) index of the lit lamp per frame (0 red, 1 yellow, 2 green, -1 none) from actor.states."""
    out = np.full(n_frames, -1, dtype=np.int64)
    if actor.category != "traffic_light" or actor.states is None:
        return out
    idx = {"red": 0, "yellow": 1, "green": 2}
    for k, st in enumerate(list(actor.states)[:n_frames]):
        out[k] = idx.get(str(st).lower(), -1)
    return out


def _pedestrian(pl, actor, L, W, H, **kw):
    """Legs, torso, arms, head (rest pose); legs (channel 1) and arms (channel 2) swing about hips/shoulders."""
    skin = _SKIN[_hash(actor.id, 1) % len(_SKIN)]
    shirt = _SHIRT[_hash(actor.id, 2) % len(_SHIRT)]
    pants = _PANTS[_hash(actor.id, 3) % len(_PANTS)]
    hair = _HAIR[_hash(actor.id, 4) % len(_HAIR)]
    s, leg_len, leg_t, arm_t, arm_len, toe = _pedestrian_dims(L, W, H)
    z0 = -H / 2
    hip_z = z0 + leg_len
    sh_z = z0 + 0.81 * H
    head_h = 0.065 * H  # half height of the head ellipsoid
    head_z = H / 2 - head_h
    torso_half_w = max(min(0.2 * s, W / 2 - arm_t), 0.05)
    torso_half_d = min(0.11 * s, L / 2)
    for side, sgn in ((-1.0, 1.0), (1.0, -1.0)):
        hip = (0.0, side * 0.48 * torso_half_w, hip_z)
        foot = (0.0, hip[1], z0)
        pl.segment(hip, foot, leg_t, leg_t, pants, swing=(1, sgn, hip), **kw)
        pl.box(-0.5 * leg_t, toe, hip[1] - 0.5 * leg_t, hip[1] + 0.5 * leg_t, z0, z0 + 0.07 * s,
               (30, 28, 26), swing=(1, sgn, hip), **kw)  # shoe
    pl.box(-torso_half_d, torso_half_d, -torso_half_w, torso_half_w, hip_z - 0.06 * s, sh_z, shirt, **kw)
    for side, sgn in ((-1.0, -1.0), (1.0, 1.0)):
        shoulder = (0.0, side * (W / 2 - arm_t / 2), sh_z - 0.02 * s)
        hand = (0.0, shoulder[1], shoulder[2] - arm_len)
        pl.segment(shoulder, hand, arm_t, arm_t, shirt, swing=(2, sgn, shoulder), **kw)
        pl.add(KIND_ELLIPSOID, (0.0, shoulder[1], hand[2] + 0.02), (0.045 * s, min(0.04 * s, arm_t / 2), 0.05 * s),
               skin, swing=(2, sgn, shoulder), **kw)
    neck_top = head_z - 0.6 * head_h
    pl.add(KIND_CYLINDER, (0.0, 0.0, 0.5 * (sh_z + neck_top)), (0.05 * s, 0.05 * s, 0.5 * (neck_top - sh_z) + 0.01),
           skin, **kw)
    pl.add(KIND_ELLIPSOID, (0.0, 0.0, head_z), (min(0.1 * s, L / 2), 0.085 * s, head_h), skin, **kw)
    # hair: the upper-back part of the head
    pl.add(KIND_ELLIPSOID, (-0.015 * s, 0.0, head_z + 0.22 * head_h),
           (min(0.094 * s, L / 2), 0.089 * s, 0.8 * head_h), hair, **kw)


# ------------------------------------------------------------------------------------------ street furniture
LAMP_NAMES = ("red", "yellow", "green")  # lamp index 0, 1, 2, top to bottom


def traffic_light_lamps(size) -> list[tuple[str, np.ndarray, float, float]]:
    """The lamps of the traffic-light model of box size (L, W, H): (state name, lamp face centre in the box frame
    (3,), disc radius m, disc thickness m), top to bottom. Every lamp faces the box's +x axis: it shows its colour to
    viewers on the +x side only (the housing hides it from behind and the side)."""
    L, W, H = (max(float(x), _MIN_DIM) for x in np.asarray(size, dtype=np.float64).reshape(3))
    hh = min(1.05, 0.4 * H)
    lamp_d = min(0.06, 0.2 * L)
    x_front = L / 2 - lamp_d
    lr = max(min(0.32 * W, 0.3 * hh / 3 * 2, 0.16), 0.02)
    return [(name, np.array([x_front + lamp_d, 0.0, H / 2 - hh * (i + 0.5) / 3.0]), lr, lamp_d)
            for i, name in enumerate(LAMP_NAMES)]


def _traffic_light(pl, actor, L, W, H, **kw):
    """Pole + housing at the top with three lamps facing +x (lamp index 0 red, 1 yellow, 2 green; see
    traffic_light_lamps). A lit lamp is emissive in its colour, so a light whose face is towards the camera shows its
    state in the rgb frame whatever the sun does."""
    hh = min(1.05, 0.4 * H)
    pole_r = min(0.09, 0.35 * min(L, W))
    pl.add(KIND_CYLINDER, (0.0, 0.0, -H / 2 + (H - hh) / 2), (pole_r, pole_r, (H - hh) / 2 + 0.01), (95, 98, 100),
           **kw)
    lamps = traffic_light_lamps((L, W, H))
    x_front = lamps[0][1][0] - lamps[0][3]
    pl.box(-L / 2, x_front, -W / 2, W / 2, H / 2 - hh, H / 2, (38, 40, 36), **kw)
    for i, (name, face, lr, lamp_d) in enumerate(lamps):
        pl.add(KIND_CYLINDER, (x_front + lamp_d / 2, 0.0, face[2]), (lr, lr, lamp_d / 2), _TL_DARK[name],
               mat=MAT_PLAIN, rot=_DISC_X_ROT, lamp=i, lit_color=_TL_LIT[name], **kw)


def _traffic_sign(pl, actor, L, W, H, **kw):
    """Pole + plate (facing +x, white border) at the top of the box."""
    t = str(actor.type_id).lower()
    if "stop" in t:
        col = (200, 25, 30)
    elif "speed" in t or "yield" in t:
        col = (235, 235, 235)
    elif tuple(actor.color) != (160, 160, 160):
        col = actor.color
    else:
        col = (30, 85, 170)
    ph = min(W, 0.35 * H, 0.9)
    thick = min(0.04, L)
    pole_r = min(0.04, 0.35 * min(L, W))
    pole_x = max(-L / 2 + pole_r, L / 2 - thick - pole_r)
    pl.add(KIND_CYLINDER, (pole_x, 0.0, -H / 2 + (H - ph) / 2 + 0.05), (pole_r, pole_r, (H - ph) / 2 + 0.05),
           (120, 122, 125), **kw)
    pl.box(L / 2 - thick, L / 2, -W / 2, W / 2, H / 2 - ph, H / 2, col, mat=MAT_SIGN,
           param=(0.08 * ph, 0, 0, 0), **kw)
