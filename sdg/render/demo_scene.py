"""A self-contained street scene for looking at the renderer, for its tests and for benchmarks/bench_simulate.py.

A straight 4-lane road along world x (lanes 3.5 m, driving on the right: +x traffic at y > 0), sidewalks, a
crosswalk, buildings on both sides, trees, street lamps, a traffic light and signs, and a mix of cars, vans, trucks,
a bus, two-wheelers and pedestrians moving at constant speed. Deterministic for a given seed.
"""
from __future__ import annotations

import numpy as np

from sdg.geometry import Camera
from sdg.scene import Actor, GroundMap, Prop, Scene
from sdg.tags import TAG

ROAD_HALF = 7.0  # m, 4 lanes of 3.5 m
SIDEWALK = 4.0  # m
_CAR_COLORS = [(170, 25, 30), (30, 60, 140), (220, 220, 222), (25, 25, 28), (120, 122, 128), (40, 110, 60),
               (200, 160, 40), (90, 40, 100), (180, 180, 170), (140, 70, 30)]
_SIZES = {
    "car": (4.6, 2.05, 1.5), "van": (5.0, 2.1, 2.0), "truck": (7.9, 2.9, 3.45), "bus": (11.5, 2.6, 3.3),
    "motorcycle": (2.2, 0.9, 1.55), "bicycle": (1.6, 0.85, 1.65), "pedestrian": (0.55, 0.6, 1.75),
}
_TYPE_IDS = {
    "car": "vehicle.tesla.model3", "van": "vehicle.mercedes.sprinter", "truck": "vehicle.carlamotors.european_hgv",
    "bus": "vehicle.mitsubishi.fusorosa", "motorcycle": "vehicle.yamaha.yzf", "bicycle": "vehicle.bh.crossbike",
    "pedestrian": "walker.pedestrian.0001",
}


def street_ground(x0: float = -40.0, x1: float = 160.0, res: float = 0.1) -> GroundMap:
    """Road, lane lines, sidewalks with kerbs, a crosswalk at x = 30 m, terrain beyond."""
    y0, y1 = -(ROAD_HALF + SIDEWALK + 14.0), ROAD_HALF + SIDEWALK + 14.0
    nx, ny = int(round((x1 - x0) / res)), int(round((y1 - y0) / res))
    xs = x0 + (np.arange(nx) + 0.5) * res
    ys = y0 + (np.arange(ny) + 0.5) * res
    X, Y = np.meshgrid(xs, ys)
    tags = np.full((ny, nx), TAG["terrain"], np.uint8)
    alb = np.zeros((ny, nx, 3), np.uint8)
    alb[:] = (92, 108, 70)
    ay = np.abs(Y)
    road = ay < ROAD_HALF
    side = (ay >= ROAD_HALF) & (ay < ROAD_HALF + SIDEWALK)
    tags[road] = TAG["road"]
    alb[road] = (74, 74, 78)
    tags[side] = TAG["sidewalk"]
    alb[side] = (150, 146, 140)
    # sidewalk slabs
    slab = side & ((np.mod(X, 1.5) < 0.04) | (np.mod(Y, 1.5) < 0.04))
    alb[slab] = (120, 117, 112)
    kerb = (ay >= ROAD_HALF) & (ay < ROAD_HALF + 0.2)
    alb[kerb] = (175, 172, 166)
    # lane lines: double yellow centre line, dashed white lane dividers, solid edge lines
    centre = (np.abs(Y) > 0.08) & (np.abs(Y) < 0.22)
    dashed = (np.abs(ay - 3.5) < 0.07) & (np.mod(X, 9.0) < 3.0)
    edge = np.abs(ay - (ROAD_HALF - 0.3)) < 0.08
    cross = (np.abs(X - 30.0) < 2.0) & road & (np.mod(Y, 1.0) < 0.5)
    for m, col in ((centre, (210, 170, 40)), (dashed, (228, 228, 225)), (edge, (228, 228, 225)),
                   (cross, (232, 232, 230))):
        tags[m] = TAG["road_line"]
        alb[m] = col
    return GroundMap(x0=x0, y0=y0, resolution=res, tags=tags, albedo=alb)


def _buildings(rng: np.random.Generator, x0: float, x1: float) -> list[Prop]:
    props = []
    for sgn in (-1.0, 1.0):
        x = x0
        while x < x1:
            w = float(rng.uniform(10, 22))
            d = float(rng.uniform(10, 16))
            h = float(rng.uniform(8, 28))
            grey = int(rng.integers(120, 200))
            tint = rng.integers(-18, 18, size=3)
            col = tuple(int(np.clip(grey + t, 60, 230)) for t in tint)
            yc = sgn * (ROAD_HALF + SIDEWALK + 1.0 + d / 2)
            props.append(Prop("box", TAG["building"], col, (x + w / 2, yc, h / 2), (w, d, h)))
            x += w + float(rng.uniform(0.0, 3.0))
    return props


def _street_furniture(rng: np.random.Generator, x0: float, x1: float) -> list[Prop]:
    props = []
    for sgn in (-1.0, 1.0):
        for x in np.arange(x0 + 4.0, x1, 16.0):
            y = sgn * (ROAD_HALF + SIDEWALK - 1.2)
            # tree: trunk + crown
            props.append(Prop("cylinder", TAG["vegetation"], (85, 62, 40), (x, y, 1.5), (0.35, 0.35, 3.0)))
            cr = float(rng.uniform(2.4, 3.4))
            props.append(Prop("ellipsoid", TAG["vegetation"], (62, 105, 45), (x, y, 3.0 + cr * 0.8),
                              (cr, cr, cr * 1.6)))
            # street lamp between trees
            yl = sgn * (ROAD_HALF + 0.5)
            props.append(Prop("cylinder", TAG["pole"], (110, 112, 115), (x + 8.0, yl, 3.5), (0.16, 0.16, 7.0)))
            props.append(Prop("box", TAG["pole"], (70, 72, 75), (x + 8.0, yl - sgn * 0.9, 7.0), (0.5, 1.9, 0.15)))
    return props


def street_scene(n_vehicles: int = 12, n_pedestrians: int = 8, n_frames: int = 30, fps: float = 10.0,
                 seed: int = 0, x_range: tuple[float, float] = (5.0, 95.0)) -> Scene:
    """A deterministic street scene. Vehicles drive along the 4 lanes, pedestrians walk on the sidewalks and the
    crosswalk, a traffic light cycles. Actor ids: vehicles 100.., pedestrians 300.., furniture 500.."""
    rng = np.random.default_rng(seed)
    times = np.arange(n_frames) / fps
    actors: list[Actor] = []
    lanes = [(-5.25, 180.0), (-1.75, 180.0), (1.75, 0.0), (5.25, 0.0)]  # (y, yaw)
    kinds = ["car", "car", "van", "car", "truck", "car", "bus", "motorcycle", "car", "bicycle", "car", "van"]
    next_x = {i: float(x_range[0]) + float(rng.uniform(0, 6)) for i in range(len(lanes))}
    for i in range(n_vehicles):
        cat = kinds[i % len(kinds)]
        if cat == "bicycle":
            lane = int(rng.choice([0, 3]))
        elif cat in ("bus", "truck"):
            lane = int(rng.choice([0, 3]))
        else:
            lane = min(range(4), key=lambda i: (next_x[i], i)) if rng.uniform() < 0.5 else int(rng.integers(0, 4))
        y, yaw = lanes[lane]
        if cat == "bicycle":
            y = 6.3 if lane == 3 else -6.3
        L, W, H = _SIZES[cat]
        x = next_x[lane] + L / 2
        next_x[lane] = x + L / 2 + float(rng.uniform(3.0, 14.0))  # lanes fill beyond x_range when crowded
        speed = {"bicycle": 4.5, "bus": 7.0, "truck": 7.5}.get(cat, float(rng.uniform(6.0, 11.0)))
        sgn = 1.0 if yaw == 0.0 else -1.0
        xs = x + sgn * speed * times
        poses = np.zeros((n_frames, 6))
        poses[:, 0] = xs
        poses[:, 1] = y
        poses[:, 5] = yaw
        color = _CAR_COLORS[int(rng.integers(len(_CAR_COLORS)))]
        if cat == "bus":
            color = (230, 175, 30)
        actors.append(Actor(id=100 + i, type_id=_TYPE_IDS[cat], category=cat, size=np.array(_SIZES[cat]),
                            poses=poses, box_offset=np.array([0.0, 0.0, H / 2]), color=color))
    for i in range(n_pedestrians):
        L, W, H = _SIZES["pedestrian"]
        poses = np.zeros((n_frames, 6))
        if i % 4 == 3:  # crossing at the crosswalk
            y0 = float(rng.uniform(-ROAD_HALF - 2, ROAD_HALF))
            v = 1.3 if rng.uniform() < 0.5 else -1.3
            poses[:, 0] = 30.0 + float(rng.uniform(-1.2, 1.2))
            poses[:, 1] = y0 + v * times
            poses[:, 5] = 90.0 if v > 0 else -90.0
        else:
            sgn = 1.0 if i % 2 == 0 else -1.0
            yb = sgn * (ROAD_HALF + float(rng.uniform(0.8, SIDEWALK - 0.5)))
            x0 = float(rng.uniform(*x_range))
            v = float(rng.uniform(0.9, 1.6)) * (1.0 if rng.uniform() < 0.5 else -1.0)
            if i % 5 == 4:
                v = 0.0  # standing
            poses[:, 0] = x0 + v * times
            poses[:, 1] = yb
            poses[:, 5] = 0.0 if v >= 0 else 180.0
        actors.append(Actor(id=300 + i, type_id=_TYPE_IDS["pedestrian"], category="pedestrian",
                            size=np.array(_SIZES["pedestrian"]), poses=poses, box_offset=np.array([0.0, 0.0, H / 2])))
    # traffic light at the crosswalk facing the oncoming (+x driving) traffic, plus two signs
    tl_pose = np.tile([33.0, ROAD_HALF + 0.8, 0.0, 0.0, 0.0, 180.0], (n_frames, 1))
    cycle = ["green"] * 12 + ["yellow"] * 4 + ["red"] * 14
    states = [cycle[(k + 3) % len(cycle)] for k in range(n_frames)]
    actors.append(Actor(id=500, type_id="traffic.traffic_light", category="traffic_light",
                        size=np.array([0.45, 0.5, 4.6]), poses=tl_pose, box_offset=np.array([0.0, 0.0, 2.3]),
                        color=(40, 40, 40), states=states))
    for j, (x, ysgn, tid) in enumerate(((20.0, -1.0, "traffic.stop"), (55.0, 1.0, "traffic.speed_limit.30"))):
        yaw = 0.0 if ysgn < 0 else 180.0
        pose = np.tile([x, ysgn * (ROAD_HALF + 0.6), 0.0, 0.0, 0.0, yaw], (n_frames, 1))
        actors.append(Actor(id=501 + j, type_id=tid, category="traffic_sign", size=np.array([0.1, 0.8, 2.6]),
                            poses=pose, box_offset=np.array([0.0, 0.0, 1.3])))
    props = _buildings(rng, -40.0, 160.0) + _street_furniture(rng, -36.0, 150.0)
    return Scene(name=f"street_{seed}", map_name="builtin_street", times=times, ground=street_ground(),
                 props=props, actors=actors, sun_direction=(-0.45, 0.35, -0.82))


def street_camera(width: int = 960, height: int = 540, fov: float = 75.0) -> Camera:
    """A pole-mounted traffic camera above the road, 9 m up, looking down the road."""
    return Camera(name="street_cam", width=width, height=height, fov=fov, location=(-12.0, -3.0, 9.0),
                  rotation=(0.0, -15.0, 5.0))


def write_sensor_pngs(out: dict, directory: str, prefix: str = "street") -> list[str]:
    """Write the five sensors of one rendered frame as viewable PNGs: rgb, semantic (CityScapes palette), depth
    (log scale, near = bright), instance (a colour per id) and normals ((n + 1) / 2)."""
    import os

    import cv2

    from sdg.tags import PALETTE

    os.makedirs(directory, exist_ok=True)
    depth = np.clip(np.log(np.maximum(out["depth"], 1e-3)) / np.log(1000.0), 0.0, 1.0)
    ids = out["instance"].astype(np.int64)
    lut = np.random.default_rng(7).integers(50, 256, size=(4096, 3)).astype(np.uint8)
    inst = lut[ids % 4096]
    inst[ids == 0] = 0
    images = {
        "rgb": out["rgb"],
        "semantic": PALETTE[out["semantic"]],
        "depth": np.repeat(((1.0 - depth) * 255).astype(np.uint8)[..., None], 3, axis=2),
        "instance": inst,
        "normals": ((out["normals"] + 1.0) * 127.5).clip(0, 255).astype(np.uint8),
    }
    paths = []
    for name, img in images.items():
        path = os.path.join(directory, f"{prefix}_{name}.png")
        cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1]))
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m sdg.render.demo_scene [dir] [width height]
    import sys

    from sdg.render.renderer import render_frame

    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/render"
    w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (960, 540)
    for p in write_sensor_pngs(render_frame(street_scene(14, 10), street_camera(w, h), 5), d):
        print(p)
