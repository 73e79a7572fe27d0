"""Static dressing of a junction layout: street lamps (tag 6 pole + arm + head, with a `Light`), trees (tag 9 trunk
cylinder + stacked crown cylinders) on the verges, and buildings (tag 3 boxes, some with a rooftop volume) along
the frontages of the corner blocks. All placement is seeded; sizes in metres.
"""
from __future__ import annotations

import numpy as np

from sdg.scene import Light, Prop
from sdg.tags import TAG

BUILDING_COLORS = [
    (150, 82, 64), (176, 104, 80), (196, 180, 150), (214, 206, 188), (120, 120, 124), (168, 168, 172),
    (98, 110, 128), (132, 146, 160), (226, 220, 206), (186, 150, 110), (110, 92, 80), (200, 196, 180),
]
# Where the default traffic camera's pole stands (configs/cameras/intersection_corner.yaml): no tree crown there.
CAMERA_POLE_XY = np.array([-13.0, -13.0])
CAMERA_CLEARANCE = 9.0

FOLIAGE = [(62, 98, 40), (74, 112, 46), (56, 88, 44), (88, 120, 52), (68, 104, 60)]
POLE_GREY = (118, 120, 122)
TRUNK = (92, 70, 50)


def _far(p, keep_out, r: float) -> bool:
    return all(np.hypot(*(np.asarray(p) - q)) > r for q in keep_out)


def place_lamps(arms, geo, E: float, sw: float, keep_out, rng) -> tuple[list[Prop], list[Light]]:
    """Lamps on the kerb side of every sidewalk, every ~25 m, arms reaching over the road."""
    props, lights = [], []
    for a in arms:
        for side in (-1, 1):
            d = geo[a.name]["d_stop"] + 6.0 + (12.0 if side > 0 else 0.0)
            while d < E - 3.0:
                base = a.at(d, side * (a.hw + 0.45))
                if _far(base, keep_out, 3.0):
                    h = 8.0
                    toward = -side * a.lat  # over the road
                    yaw = float(np.degrees(np.arctan2(toward[1], toward[0])))
                    props.append(Prop("cylinder", TAG["pole"], POLE_GREY, (base[0], base[1], h / 2), (0.22, 0.22, h)))
                    arm_c = base + toward * 0.9
                    props.append(Prop("box", TAG["pole"], POLE_GREY, (arm_c[0], arm_c[1], h - 0.1),
                                      (1.8, 0.12, 0.12), yaw))
                    head = base + toward * 1.75
                    props.append(Prop("box", TAG["pole"], (70, 72, 74), (head[0], head[1], h - 0.25),
                                      (0.7, 0.35, 0.18), yaw))
                    lights.append(Light(position=(float(head[0]), float(head[1]), h - 0.4), color=(255, 214, 160),
                                        intensity=1.0, kind="street"))
                d += 25.0
    return props, lights


def tree(x: float, y: float, rng, scale: float = 1.0) -> list[Prop]:
    """Trunk + three stacked crown cylinders (a rounded silhouette) at ground point (x, y)."""
    col = FOLIAGE[int(rng.integers(len(FOLIAGE)))]
    trunk_h = 2.6 * scale
    d = float(rng.uniform(3.0, 4.2)) * scale
    out = [Prop("cylinder", TAG["vegetation"], TRUNK, (x, y, trunk_h / 2), (0.3 * scale, 0.3 * scale, trunk_h))]
    z = trunk_h
    for frac, hh in ((0.75, 0.8), (1.0, 1.6), (0.7, 0.9)):
        h = hh * scale
        c = tuple(int(np.clip(v * rng.uniform(0.9, 1.1), 0, 255)) for v in col)
        out.append(Prop("cylinder", TAG["vegetation"], c, (x, y, z + h / 2), (d * frac, d * frac, h)))
        z += h
    return out


def place_trees(arms, geo, E: float, sw: float, keep_out, rng, crossing: bool, quadrant_has) -> list[Prop]:
    """Trees on the grass verge between each sidewalk and the buildings, 9-15 m apart with gaps."""
    out = []
    for a in arms:
        for side in (-1, 1):
            lateral = side * (a.hw + sw + 1.5)
            if crossing and quadrant_has(a, side):
                other = max(x.hw for x in arms if x.axis != a.axis)
                d = other + sw + 4.0
            else:
                d = 3.0
            d += float(rng.uniform(0, 5))
            while d < E - 3.0:
                p = a.at(d, lateral)
                if rng.random() > 0.3 and _far(p, keep_out, 2.5) and _far(p, [CAMERA_POLE_XY], CAMERA_CLEARANCE):
                    out += tree(float(p[0]), float(p[1]), rng, scale=float(rng.uniform(0.85, 1.2)))
                d += float(rng.uniform(9.0, 15.0))
    return out


def _building(x0: float, x1: float, y0: float, y1: float, rng) -> list[Prop]:
    """A building filling the ground rectangle [x0, x1] x [y0, y1], height from a city-like distribution."""
    r = rng.random()
    h = float(rng.uniform(6, 15) if r < 0.6 else rng.uniform(15, 30) if r < 0.9 else rng.uniform(30, 48))
    base = BUILDING_COLORS[int(rng.integers(len(BUILDING_COLORS)))]
    col = tuple(int(np.clip(c * rng.uniform(0.92, 1.08), 0, 255)) for c in base)
    cx, cy, lx, ly = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    out = [Prop("box", TAG["building"], col, (cx, cy, h / 2), (lx, ly, h))]
    if rng.random() < 0.35 and lx > 8 and ly > 8:
        rh = float(rng.uniform(2.0, 4.0))
        dark = tuple(int(c * 0.8) for c in col)
        out.append(Prop("box", TAG["building"], dark, (cx, cy, h + rh / 2), (lx * 0.45, ly * 0.45, rh)))
    return out


def _frontage(start: float, stop: float, rng):
    """1-D packing of building widths along a street: yields (a, b) intervals."""
    pos = start
    while pos < stop - 6.0:
        width = min(float(rng.uniform(9.0, 22.0)), stop - pos)
        if width >= 6.0:
            yield pos, pos + width
        pos += width + (0.0 if rng.random() < 0.4 else float(rng.uniform(1.0, 4.0)))


def place_buildings(arms: dict, hw: dict, E: float, sw: float, rng, crossing: bool) -> list[Prop]:
    """Buildings on the four blocks around the origin, set back 3-5 m behind the sidewalks."""
    out = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            has_h = ("E" if sx > 0 else "W") in arms
            has_v = ("S" if sy > 0 else "N") in arms
            if not has_h:
                continue
            y_in = hw["ew"] + sw
            x_in = hw["ns"] + sw if has_v else 0.0
            sb = float(rng.uniform(3.5, 5.0))
            lim = E - 1.0
            x_start = x_in + (sb if has_v else 0.5)
            if has_v:  # corner building
                cw_, cd_ = float(rng.uniform(12, 20)), float(rng.uniform(12, 20))
                xa, xb = x_in + sb, x_in + sb + cw_
                ya, yb = y_in + sb, y_in + sb + cd_
                out += _building(*sorted((sx * xa, sx * xb)), *sorted((sy * ya, sy * yb)), rng)
                x_start = xb + float(rng.uniform(0.0, 3.0))
                y_from = yb + float(rng.uniform(0.0, 3.0))
                for a, b in _frontage(y_from, lim, rng):
                    sbv = x_in + float(rng.uniform(3.5, 5.0))
                    depth = float(rng.uniform(10, 18))
                    out += _building(*sorted((sx * sbv, sx * (sbv + depth))), *sorted((sy * a, sy * b)), rng)
            for a, b in _frontage(x_start, lim, rng):
                sbh = y_in + float(rng.uniform(3.5, 5.0))
                depth = float(rng.uniform(10, 18))
                out += _building(*sorted((sx * a, sx * b)), *sorted((sy * sbh, sy * (sbh + depth))), rng)
    return out
