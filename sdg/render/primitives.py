"""Renderable primitives as flat arrays (structure of arrays), the form the numba kernels consume.

A primitive is a box, a cylinder (axis = its local z) or an ellipsoid with a centre (world metres), a local->world
rotation matrix (columns = local axes in world), half extents (metres), an albedo colour (0..1), a material
(sdg.render.kernels.MAT_*) with four material parameters, a semantic tag, an instance id (actor id, 0 for props)
and an ambient-occlusion strength for the ground around its footprint (0 = none).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdg.geometry import rotation_matrix
from sdg.render.kernels import (
    KIND_BOX,
    KIND_CYLINDER,
    KIND_ELLIPSOID,
    MAT_BUILDING,
    MAT_EMISSIVE,
    MAT_FOLIAGE,
    MAT_PLAIN,
)
from sdg.scene import Prop
from sdg.tags import TAG

KIND_BY_NAME = {"box": KIND_BOX, "cylinder": KIND_CYLINDER, "ellipsoid": KIND_ELLIPSOID, "sphere": KIND_ELLIPSOID}


@dataclass
class Primitives:
    kind: np.ndarray  # (N,) int64
    center: np.ndarray  # (N, 3) float64 world metres
    rot: np.ndarray  # (N, 3, 3) float64 local -> world
    half: np.ndarray  # (N, 3) float64 half extents, metres
    color: np.ndarray  # (N, 3) float64 albedo 0..1
    mat: np.ndarray  # (N,) int64
    param: np.ndarray  # (N, 4) float64 material parameters
    tag: np.ndarray  # (N,) uint8 semantic tag
    inst: np.ndarray  # (N,) uint32 instance id
    ao: np.ndarray  # (N,) float64 contact-shadow strength on the ground, 0..1

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @staticmethod
    def empty() -> "Primitives":
        return Primitives(
            kind=np.zeros(0, np.int64), center=np.zeros((0, 3)), rot=np.zeros((0, 3, 3)), half=np.zeros((0, 3)),
            color=np.zeros((0, 3)), mat=np.zeros(0, np.int64), param=np.zeros((0, 4)), tag=np.zeros(0, np.uint8),
            inst=np.zeros(0, np.uint32), ao=np.zeros(0),
        )

    @staticmethod
    def concat(parts: list["Primitives"]) -> "Primitives":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Primitives.empty()
        if len(parts) == 1:
            return parts[0]
        return Primitives(**{f: np.concatenate([getattr(p, f) for p in parts])
                             for f in Primitives.__dataclass_fields__})

    def select(self, mask: np.ndarray) -> "Primitives":
        return Primitives(**{f: getattr(self, f)[mask] for f in Primitives.__dataclass_fields__})

    def corners(self) -> np.ndarray:
        """(N, 8, 3) world corners of each primitive's bounding box (exact for boxes, enclosing otherwise)."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        local = signs[None, :, :] * self.half[:, None, :]
        return np.einsum("nij,nkj->nki", self.rot, local) + self.center[:, None, :]


class PartList:
    """Accumulates parts in an owner's local frame (actor box frame: origin = box centre, x forward, y right,
    z up), then composes them with the owner's world pose(s) in one vectorised step."""

    def __init__(self):
        self.kind: list[int] = []
        self.center: list[tuple[float, float, float]] = []
        self.rot: list[np.ndarray] = []
        self.half: list[tuple[float, float, float]] = []
        self.color: list[tuple[float, float, float]] = []
        self.mat: list[int] = []
        self.param: list[tuple[float, float, float, float]] = []
        self.tag: list[int] = []
        self.inst: list[int] = []
        self.ao: list[float] = []
        self.owner: list[int] = []  # index into the poses given to compose()
        # animation: a part may swing about a pivot (local point) around the owner's local y axis by
        # sign * angle[owner, channel] (channel 0 = rigid), and a lamp part takes its lit colour when
        # lamp_state[owner] == its lamp index (-1 = not a lamp)
        self.swing_channel: list[int] = []
        self.swing_sign: list[float] = []
        self.pivot: list[tuple[float, float, float]] = []
        self.lamp: list[int] = []
        self.lit_color: list[tuple[float, float, float]] = []

    def add(self, kind: int, center, half, color, *, mat: int = MAT_PLAIN, rot: np.ndarray | None = None,
            param=(0.0, 0.0, 0.0, 0.0), tag: int, inst: int = 0, ao: float = 0.0, owner: int = 0,
            swing: tuple[int, float, tuple[float, float, float]] | None = None, lamp: int = -1,
            lit_color=None) -> None:
        """color: 0..255 integers or 0..1 floats (taken as 0..255 if any component > 1). swing = (channel, sign,
        pivot) animates the part (see compose); lamp >= 0 with lit_color makes it a lamp (emissive when lit)."""
        c = _color01(color)
        self.swing_channel.append(0 if swing is None else int(swing[0]))
        self.swing_sign.append(0.0 if swing is None else float(swing[1]))
        self.pivot.append((0.0, 0.0, 0.0) if swing is None else tuple(float(x) for x in swing[2]))
        self.lamp.append(int(lamp))
        self.lit_color.append(c if lit_color is None else _color01(lit_color))
        self.kind.append(kind)
        self.center.append(tuple(float(x) for x in center))
        self.rot.append(np.eye(3) if rot is None else np.asarray(rot, dtype=np.float64))
        self.half.append(tuple(max(float(x), 1e-3) for x in half))
        self.color.append(c)
        self.mat.append(int(mat))
        self.param.append(tuple(float(x) for x in param) + (0.0,) * (4 - len(param)))
        self.tag.append(int(tag))
        self.inst.append(int(inst))
        self.ao.append(float(ao))
        self.owner.append(int(owner))

    def box(self, x0, x1, y0, y1, z0, z1, color, **kw) -> None:
        """An axis-aligned (in the local frame) box from its extents."""
        self.add(KIND_BOX, ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2),
                 ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2), color, **kw)

    def segment(self, p0, p1, width: float, depth: float, color, kind: int = KIND_BOX, **kw) -> None:
        """A limb: a box (or cylinder) whose local z runs from p0 to p1, cross-section width (local y-ish) x depth."""
        p0 = np.asarray(p0, dtype=np.float64)
        p1 = np.asarray(p1, dtype=np.float64)
        axis = p1 - p0
        length = float(np.linalg.norm(axis))
        a = axis / max(length, 1e-9)
        ref = np.array([0.0, 1.0, 0.0]) if abs(a[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
        xa = np.cross(ref, a)
        xa /= np.linalg.norm(xa)
        ya = np.cross(a, xa)
        r = np.stack([xa, ya, a], axis=1)
        self.add(kind, (p0 + p1) / 2, (depth / 2, width / 2, length / 2), color, rot=r, **kw)

    def __len__(self) -> int:
        return len(self.kind)

    def freeze(self) -> "PartTemplate":
        return PartTemplate(self)

    def compose(self, centers: np.ndarray, rotations: np.ndarray, swing: np.ndarray | None = None,
                lamp_state: np.ndarray | None = None) -> Primitives:
        return self.freeze().compose(centers, rotations, swing, lamp_state)


def _color01(color) -> tuple[float, float, float]:
    c = tuple(float(x) for x in color)
    if len(c) != 3:
        raise ValueError(f"colour must have 3 components, got {color!r}")
    if max(c) > 1.0:
        c = tuple(x / 255.0 for x in c)
    return c


class PartTemplate:
    """A frozen PartList as arrays: composing it with owner poses is a few vectorised numpy operations."""

    def __init__(self, pl: PartList):
        n = len(pl)
        self.n = n
        self.kind = np.asarray(pl.kind, dtype=np.int64)
        self.center = np.asarray(pl.center, dtype=np.float64).reshape(n, 3)
        self.rot = np.stack(pl.rot) if n else np.zeros((0, 3, 3))
        self.half = np.asarray(pl.half, dtype=np.float64).reshape(n, 3)
        self.color = np.asarray(pl.color, dtype=np.float64).reshape(n, 3)
        self.lit_color = np.asarray(pl.lit_color, dtype=np.float64).reshape(n, 3)
        self.mat = np.asarray(pl.mat, dtype=np.int64)
        self.param = np.asarray(pl.param, dtype=np.float64).reshape(n, 4)
        self.tag = np.asarray(pl.tag, dtype=np.uint8)
        self.inst = np.asarray(pl.inst, dtype=np.uint32)
        self.ao = np.asarray(pl.ao, dtype=np.float64)
        self.owner = np.asarray(pl.owner, dtype=np.int64)
        self.swing_channel = np.asarray(pl.swing_channel, dtype=np.int64)
        self.swing_sign = np.asarray(pl.swing_sign, dtype=np.float64)
        self.pivot = np.asarray(pl.pivot, dtype=np.float64).reshape(n, 3)
        self.lamp = np.asarray(pl.lamp, dtype=np.int64)
        self.animated = np.flatnonzero(self.swing_channel > 0)
        self.lamps = np.flatnonzero(self.lamp >= 0)

    def select_owners(self, owners: np.ndarray) -> np.ndarray:
        """Indices of the parts whose owner is in `owners`."""
        return np.flatnonzero(np.isin(self.owner, owners))

    def compose(self, centers: np.ndarray, rotations: np.ndarray, swing: np.ndarray | None = None,
                lamp_state: np.ndarray | None = None, parts: np.ndarray | None = None) -> Primitives:
        """World primitives given the owners' world box centres (M, 3), local->world rotations (M, 3, 3), swing
        angles (M, C) radians (part angle = sign * swing[owner, channel]; rotation about the owner's local y through
        the part's pivot) and lamp states (M,) int (-1 = none lit). `parts` restricts to a subset of part indices."""
        sel = np.arange(self.n) if parts is None else np.asarray(parts, dtype=np.int64)
        if len(sel) == 0:
            return Primitives.empty()
        owner = self.owner[sel]
        c_loc = self.center[sel]
        r_loc = self.rot[sel]
        color = self.color[sel]
        mat = self.mat[sel]
        if swing is not None:
            anim = np.flatnonzero(self.swing_channel[sel] > 0)
            if len(anim):
                ids = sel[anim]
                a = self.swing_sign[ids] * swing[self.owner[ids], self.swing_channel[ids]]
                ca, sa = np.cos(a), np.sin(a)
                ry = np.zeros((len(ids), 3, 3))
                ry[:, 0, 0] = ca
                ry[:, 0, 2] = sa
                ry[:, 1, 1] = 1.0
                ry[:, 2, 0] = -sa
                ry[:, 2, 2] = ca
                piv = self.pivot[ids]
                c_loc = c_loc.copy()
                r_loc = r_loc.copy()
                c_loc[anim] = piv + np.einsum("nij,nj->ni", ry, self.center[ids] - piv)
                r_loc[anim] = np.einsum("nij,njk->nik", ry, self.rot[ids])
        if lamp_state is not None:
            lamp = self.lamp[sel]
            lit = (lamp >= 0) & (lamp == lamp_state[owner])
            if np.any(lit):
                color = color.copy()
                mat = mat.copy()
                color[lit] = self.lit_color[sel[lit]]
                mat[lit] = MAT_EMISSIVE
        r_own = rotations[owner]
        return Primitives(
            kind=self.kind[sel],
            center=centers[owner] + np.einsum("nij,nj->ni", r_own, c_loc),
            rot=np.einsum("nij,njk->nik", r_own, r_loc),
            half=self.half[sel],
            color=color,
            mat=mat,
            param=self.param[sel],
            tag=self.tag[sel],
            inst=self.inst[sel],
            ao=self.ao[sel],
        )


def props_to_primitives(props: list[Prop]) -> Primitives:
    """Static props -> primitives. Buildings (tag 3) tall enough get windows; vegetation gets leafy noise."""
    pl = PartList()
    centers = np.zeros((len(props), 3))
    rots = np.zeros((len(props), 3, 3))
    for i, p in enumerate(props):
        kind = KIND_BY_NAME.get(str(p.kind).lower())
        if kind is None:
            raise ValueError(f"prop {i} ({p!r}): kind must be one of {sorted(KIND_BY_NAME)}, got {p.kind!r}")
        size = np.asarray(p.size, dtype=np.float64)
        if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise ValueError(f"prop {i} (kind {p.kind!r}): size must be three positive metres, got {p.size!r}")
        centers[i] = p.center
        rots[i] = rotation_matrix(0.0, 0.0, float(p.yaw))
        mat, param, ao = MAT_PLAIN, (0.0, 0.0, 0.0, 0.0), 0.0
        if p.tag == TAG["building"] and kind == KIND_BOX and size[2] >= 4.0:
            mat, param, ao = MAT_BUILDING, (3.4, 2.9, float(i * 7 + 1), 0.0), 0.35
        elif p.tag == TAG["vegetation"]:
            mat, param = MAT_FOLIAGE, (float(i % 13), 0.0, 0.0, 0.0)
        pl.add(kind, (0.0, 0.0, 0.0), size / 2.0, p.color, mat=mat, param=param, tag=int(p.tag), inst=0, ao=ao,
               owner=i)
    return pl.compose(centers, rots)
