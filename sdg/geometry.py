"""Coordinate frames and the pinhole camera shared by every stage.

World frame: CARLA / Unreal, left-handed, x forward, y right, z up, metres; rotations (roll, pitch, yaw) in degrees.
Camera frame for projection: OpenCV (x right, y down, z forward), reached from Unreal camera axes by (y, -z, x).
Pixel convention: the image spans the continuous rectangle [0, W] x [0, H]; pixel (col u, row v) has its centre at
(u + 0.5, v + 0.5). With cx = W/2, cy = H/2 the optical axis hits the exact image centre. A tight box of a mask whose
pixels span columns u0..u1 and rows v0..v1 is [u0, v0, u1 + 1, v1 + 1] in the same coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Unreal camera axes (x fwd, y right, z up) -> OpenCV camera axes (x right, y down, z fwd).
UE_TO_CV = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])

SKY_DEPTH = 1000.0  # metres; what CARLA's depth camera reports for the sky (its far plane)


def rotation_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Actor-local -> world rotation, CARLA's convention (the matrix of carla.Transform.get_matrix)."""
    r, p, y = np.radians([roll, pitch, yaw])
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cp * cy, cy * sp * sr - sy * cr, -cy * sp * cr - sy * sr],
            [cp * sy, sy * sp * sr + cy * cr, -sy * sp * cr + cy * sr],
            [sp, -cp * sr, cp * cr],
        ]
    )


def rotation_matrices(rpy: np.ndarray) -> np.ndarray:
    """Vectorised rotation_matrix over (..., 3) arrays of (roll, pitch, yaw) degrees -> (..., 3, 3)."""
    rpy = np.radians(np.asarray(rpy, dtype=np.float64))
    r, p, y = rpy[..., 0], rpy[..., 1], rpy[..., 2]
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    m = np.empty(rpy.shape[:-1] + (3, 3))
    m[..., 0, 0] = cp * cy
    m[..., 0, 1] = cy * sp * sr - sy * cr
    m[..., 0, 2] = -cy * sp * cr - sy * sr
    m[..., 1, 0] = cp * sy
    m[..., 1, 1] = sy * sp * sr + cy * cr
    m[..., 1, 2] = -sy * sp * cr + cy * sr
    m[..., 2, 0] = sp
    m[..., 2, 1] = -cp * sr
    m[..., 2, 2] = cp * cr
    return m


def transform_matrix(location, rotation) -> np.ndarray:
    """4x4 local -> world for location (x, y, z) metres and rotation (roll, pitch, yaw) degrees."""
    m = np.eye(4)
    m[:3, :3] = rotation_matrix(*rotation)
    m[:3, 3] = location
    return m


def box_corners(size, center=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(8, 3) world corners of a box of full size (length x, width y, height z) centred at `center`."""
    l, w, h = np.asarray(size, dtype=np.float64) / 2.0
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    local = signs * np.array([l, w, h])
    return local @ rotation_matrix(*rotation).T + np.asarray(center, dtype=np.float64)


def wrap_degrees(a):
    """Wrap angles to (-180, 180]."""
    a = np.asarray(a, dtype=np.float64)
    w = np.mod(a + 180.0, 360.0) - 180.0
    return np.where(w == -180.0, 180.0, w)


@dataclass(frozen=True)
class Camera:
    """A static pinhole camera. location in metres (world), rotation (roll, pitch, yaw) degrees, fov horizontal."""

    name: str
    width: int
    height: int
    fov: float
    location: tuple[float, float, float]
    rotation: tuple[float, float, float]
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self):
        if not (0.0 < float(self.fov) < 180.0):
            raise ValueError(f"camera {self.name!r}: fov must be in (0, 180) degrees, got {self.fov}")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"camera {self.name!r}: image size must be positive, got {self.width}x{self.height}")

    @property
    def focal(self) -> float:
        return self.width / (2.0 * np.tan(np.radians(self.fov) / 2.0))

    @property
    def K(self) -> np.ndarray:
        f = self.focal
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height / 2.0], [0.0, 0.0, 1.0]])

    @property
    def camera_to_world(self) -> np.ndarray:
        """4x4 Unreal-camera-axes -> world."""
        return transform_matrix(self.location, self.rotation)

    @property
    def world_to_camera(self) -> np.ndarray:
        """4x4 world -> OpenCV camera frame (x right, y down, z forward)."""
        if "w2c" not in self._cache:
            c2w = self.camera_to_world
            r, t = c2w[:3, :3], c2w[:3, 3]
            m = np.eye(4)
            m[:3, :3] = UE_TO_CV @ r.T
            m[:3, 3] = -UE_TO_CV @ r.T @ t
            self._cache["w2c"] = m
        return self._cache["w2c"]

    def to_camera(self, points_world) -> np.ndarray:
        """(N, 3) world points -> (N, 3) OpenCV camera coordinates."""
        p = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        m = self.world_to_camera
        return p @ m[:3, :3].T + m[:3, 3]

    def project(self, points_world) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) pixel coords (u, v) in the continuous convention, (N,) planar depth z).
        Points behind the camera get depth <= 0 and meaningless uv; callers must clip or discard them."""
        pc = self.to_camera(points_world)
        z = pc[:, 2]
        zs = np.where(np.abs(z) < 1e-9, 1e-9, z)
        f = self.focal
        u = f * pc[:, 0] / zs + self.width / 2.0
        v = f * pc[:, 1] / zs + self.height / 2.0
        return np.stack([u, v], axis=1), z

    def pixel_rays(self, u0: int = 0, v0: int = 0, u1: int | None = None, v1: int | None = None):
        """Unit world-space ray directions through pixel centres of the rectangle [u0,u1) x [v0,v1) (may extend
        beyond the image). Returns (origin (3,), dirs (h, w, 3), z_per_unit (h, w)) where z_per_unit is the planar
        depth gained per metre travelled along each ray (planar depth = t * z_per_unit)."""
        u1 = self.width if u1 is None else u1
        v1 = self.height if v1 is None else v1
        f = self.focal
        us = (np.arange(u0, u1, dtype=np.float64) + 0.5 - self.width / 2.0) / f
        vs = (np.arange(v0, v1, dtype=np.float64) + 0.5 - self.height / 2.0) / f
        x, y = np.meshgrid(us, vs)
        d_cv = np.stack([x, y, np.ones_like(x)], axis=-1)
        norm = np.linalg.norm(d_cv, axis=-1, keepdims=True)
        d_cv = d_cv / norm
        # OpenCV camera -> world: inverse of world_to_camera rotation
        r_c2w = self.world_to_camera[:3, :3].T
        dirs = d_cv @ r_c2w.T
        return np.asarray(self.location, dtype=np.float64), dirs, d_cv[..., 2]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "width": int(self.width),
            "height": int(self.height),
            "fov": float(self.fov),
            "location": [float(x) for x in self.location],
            "rotation": [float(x) for x in self.rotation],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        return cls(
            name=d["name"],
            width=int(d["width"]),
            height=int(d["height"]),
            fov=float(d["fov"]),
            location=tuple(float(x) for x in d["location"]),
            rotation=tuple(float(x) for x in d["rotation"]),
        )
