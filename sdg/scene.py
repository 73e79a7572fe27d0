"""The scene as plain data (Kubric-style): what exists, where, and when. Produced by the built-in scenario
generators and by the CARLA recording importer; consumed by the CPU renderer and by ground truth.

Conventions (see sdg.geometry): world metres, CARLA axes; rotations (roll, pitch, yaw) degrees.
An actor's `poses[k]` is its origin at `scene.times[k]`; its 3D box centre is origin + R @ box_offset and its box
has full extents `size` = (length along local x, width along local y, height along local z).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sdg.geometry import rotation_matrices


@dataclass
class GroundMap:
    """The z = 0 ground, baked into a top-down raster. Cell (iy, ix) covers
    x in [x0 + ix*res, x0 + (ix+1)*res), y in [y0 + iy*res, y0 + (iy+1)*res). Outside the raster: `outside_tag`."""

    x0: float
    y0: float
    resolution: float
    tags: np.ndarray  # (Ny, Nx) uint8 semantic tag
    albedo: np.ndarray  # (Ny, Nx, 3) uint8 base colour
    outside_tag: int = 10  # terrain
    outside_albedo: tuple[int, int, int] = (96, 110, 72)

    def lookup(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Semantic tag and albedo at world points (x, y) on the ground."""
        ix = np.floor((np.asarray(x) - self.x0) / self.resolution).astype(np.int64)
        iy = np.floor((np.asarray(y) - self.y0) / self.resolution).astype(np.int64)
        ny, nx = self.tags.shape
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        ixc, iyc = np.clip(ix, 0, nx - 1), np.clip(iy, 0, ny - 1)
        tags = np.where(inside, self.tags[iyc, ixc], np.uint8(self.outside_tag)).astype(np.uint8)
        alb = np.where(inside[..., None], self.albedo[iyc, ixc], np.array(self.outside_albedo, np.uint8))
        return tags, alb.astype(np.uint8)


@dataclass
class Prop:
    """A static, unannotated piece of the world (building, pole, tree crown, wall...). kind: 'box' | 'cylinder'.
    `center` is the primitive's centre; `size` full extents (for a cylinder: diameter, diameter, height)."""

    kind: str
    tag: int
    color: tuple[int, int, int]
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0


@dataclass
class Actor:
    """An annotated object: vehicle, walker, traffic light or sign. Static ones have identical poses every frame."""

    id: int  # actor id (CARLA actor id for recordings); > 0; also the instance id rendered
    type_id: str  # blueprint id, e.g. "vehicle.tesla.model3", "walker.pedestrian.0001", "traffic.traffic_light"
    category: str  # one of sdg.tags.CATEGORIES
    size: np.ndarray  # (3,) full extents length, width, height in metres
    poses: np.ndarray  # (T, 6) x, y, z, roll, pitch, yaw per scene frame
    box_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))  # local-frame box centre offset
    color: tuple[int, int, int] = (160, 160, 160)
    size_source: str = "generator"  # "log" | "table" | "default" | "generator"
    states: list[str] | None = None  # per-frame state (traffic lights: "red" | "yellow" | "green")
    attributes: dict = field(default_factory=dict)

    def box_centers(self) -> np.ndarray:
        """(T, 3) world box centres."""
        r = rotation_matrices(self.poses[:, 3:6])
        return self.poses[:, :3] + r @ np.asarray(self.box_offset, dtype=np.float64)

    def velocities(self, times: np.ndarray) -> np.ndarray:
        """(T, 3) world velocity (m/s) from the poses (recordings teleport actors, so never trust a reported one)."""
        if len(times) < 2:
            return np.zeros((len(times), 3))
        return np.gradient(self.poses[:, :3], times, axis=0)


@dataclass
class Light:
    """A point light (street lamp, headlight) for night looks. Position in world metres."""

    position: tuple[float, float, float]
    color: tuple[int, int, int] = (255, 220, 170)
    intensity: float = 1.0
    kind: str = "street"  # "street" | "headlight" | "taillight"
    actor_id: int = 0  # for lights attached to an actor (poses follow that actor; position is then local)


@dataclass
class Event:
    kind: str  # "collision" | "wrong_way" | "near_miss" | "red_light" | "jaywalking" | ...
    actor_ids: list[int]
    t_start: float
    t_end: float
    details: dict = field(default_factory=dict)


@dataclass
class Scene:
    name: str
    map_name: str
    times: np.ndarray  # (T,) seconds, the frame times of this scene
    ground: GroundMap
    props: list[Prop] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    lights: list[Light] = field(default_factory=list)
    sun_direction: tuple[float, float, float] = (-0.4, 0.3, -0.85)  # direction light travels (world, unit-ish)
    sky_color: tuple[int, int, int] = (150, 185, 225)
    source: str = "builtin"  # "builtin" | "recording:<file name>"
    source_path: str | None = None  # the imported file (recordings), for backends that replay it

    @property
    def fps(self) -> float:
        if len(self.times) < 2:
            return 10.0
        return float(round(1.0 / float(np.median(np.diff(self.times))), 6))

    def actor(self, actor_id: int) -> Actor:
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(f"no actor {actor_id} in scene {self.name!r}")
