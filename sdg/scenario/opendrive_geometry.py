"""OpenDRIVE reference-line geometry (planView) and cubic records, evaluated in the OpenDRIVE inertial frame.

Frames
    OpenDRIVE (ODR): right-handed, x east, y north, headings in radians counter-clockwise from +x. A road point is
    given by (s, t): s the arc length along the reference line (metres), t the lateral offset, positive to the LEFT
    of the reference direction.
    CARLA: left-handed, x east(forward), y south(right), yaw clockwise seen from above. Maps imported from OpenDRIVE
    have x_carla = x_odr, y_carla = -y_odr, heading_carla = -heading_odr (`odr_to_carla`). Left/right as seen by a
    driver are the same in both frames: a lane at t > 0 lies to the driver's left in either.

Geometries (a `<geometry s x y hdg length>` with one child):
    line                          straight
    arc curvature                 constant curvature k (1/m, > 0 turns left)
    spiral curvStart curvEnd      clothoid: heading(ds) = hdg + c0*ds + (c1 - c0)/(2L)*ds^2, position integrated
                                  numerically on a 1 cm grid (trapezoid rule; error << 1 mm for road-sized spirals)
    poly3 a b c d                 v(u) = a + b u + c u^2 + d u^3 in the local (u along hdg, v to the left) frame,
                                  u reparameterised by arc length (numerically)
    paramPoly3 aU..dU aV..dV pRange
                                  u(p), v(p) cubics, p in [0, length] ("arcLength") or [0, 1] ("normalized");
                                  p = ds * p_max / length, as the standard defines p for both ranges
All `evaluate(ds)` return ODR-frame (x, y, heading) for ds in [0, length] (clipped).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPIRAL_STEP = 0.01  # m, integration grid of spirals and poly3 arc-length tables


def odr_to_carla(x, y, heading=None):
    """ODR inertial (x, y[, heading rad]) -> CARLA (x, -y[, -heading]). Arrays or scalars."""
    if heading is None:
        return np.asarray(x, float), -np.asarray(y, float)
    return np.asarray(x, float), -np.asarray(y, float), -np.asarray(heading, float)


@dataclass(frozen=True)
class Cubic:
    """value(s) = a + b*ds + c*ds^2 + d*ds^3 with ds = s - s0 (s0 in whatever frame the owner uses)."""

    s0: float
    a: float
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0

    def __call__(self, s):
        ds = np.asarray(s, float) - self.s0
        return self.a + ds * (self.b + ds * (self.c + ds * self.d))

    def derivative(self, s):
        ds = np.asarray(s, float) - self.s0
        return self.b + ds * (2.0 * self.c + 3.0 * ds * self.d)


def eval_piecewise(records: list[Cubic], s, default: float = 0.0) -> np.ndarray:
    """Piecewise cubic: at each s the record with the largest s0 <= s applies (the first one before its s0).
    `records` must be sorted by s0. Empty records give `default`."""
    s = np.asarray(s, float)
    if not records:
        return np.full(s.shape, default)
    starts = np.array([r.s0 for r in records])
    idx = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(records) - 1)
    out = np.empty(s.shape)
    for i, r in enumerate(records):
        m = idx == i
        if np.any(m):
            out[m] = r(s[m])
    return out


@dataclass
class Geometry:
    """One planView record: start s (along the road), start point (x, y), start heading `hdg`, `length` (m)."""

    s: float
    x: float
    y: float
    hdg: float
    length: float
    kind: str = "line"

    def evaluate(self, ds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ds = np.clip(np.asarray(ds, float), 0.0, self.length)
        c, s = np.cos(self.hdg), np.sin(self.hdg)
        return self.x + ds * c, self.y + ds * s, np.full(ds.shape, self.hdg)

    def max_curvature(self) -> float:
        return 0.0

    def _local_to_world(self, u, v):
        c, s = np.cos(self.hdg), np.sin(self.hdg)
        return self.x + u * c - v * s, self.y + u * s + v * c


@dataclass
class Arc(Geometry):
    curvature: float = 0.0
    kind: str = "arc"

    def evaluate(self, ds):
        k = self.curvature
        if abs(k) < 1e-12:
            return Geometry.evaluate(self, ds)
        ds = np.clip(np.asarray(ds, float), 0.0, self.length)
        h = self.hdg + k * ds
        x = self.x + (np.sin(h) - np.sin(self.hdg)) / k
        y = self.y - (np.cos(h) - np.cos(self.hdg)) / k
        return x, y, h

    def max_curvature(self) -> float:
        return abs(self.curvature)


@dataclass
class Spiral(Geometry):
    curv_start: float = 0.0
    curv_end: float = 0.0
    kind: str = "spiral"
    _table: tuple = field(default=None, repr=False)

    def heading(self, ds) -> np.ndarray:
        ds = np.asarray(ds, float)
        dk = (self.curv_end - self.curv_start) / self.length
        return self.hdg + self.curv_start * ds + 0.5 * dk * ds**2

    def _grid(self):
        if self._table is None:
            n = max(2, int(np.ceil(self.length / SPIRAL_STEP)) + 1)
            g = np.linspace(0.0, self.length, n)
            h = self.heading(g)
            dx = np.concatenate([[0.0], np.cumsum(0.5 * (np.cos(h[1:]) + np.cos(h[:-1])) * np.diff(g))])
            dy = np.concatenate([[0.0], np.cumsum(0.5 * (np.sin(h[1:]) + np.sin(h[:-1])) * np.diff(g))])
            self._table = (g, self.x + dx, self.y + dy)
        return self._table

    def evaluate(self, ds):
        ds = np.clip(np.asarray(ds, float), 0.0, self.length)
        g, gx, gy = self._grid()
        return np.interp(ds, g, gx), np.interp(ds, g, gy), self.heading(ds)

    def max_curvature(self) -> float:
        return max(abs(self.curv_start), abs(self.curv_end))


@dataclass
class Poly3(Geometry):
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0
    kind: str = "poly3"
    _table: tuple = field(default=None, repr=False)

    def _v(self, u):
        return self.a + u * (self.b + u * (self.c + u * self.d))

    def _dv(self, u):
        return self.b + u * (2 * self.c + 3 * self.d * u)

    def _grid(self):
        if self._table is None:
            # arc length >= u, so u runs at most to `length`
            n = max(2, int(np.ceil(self.length / SPIRAL_STEP)) + 1)
            u = np.linspace(0.0, self.length, n)
            f = np.sqrt(1.0 + self._dv(u) ** 2)
            s = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(u))])
            self._table = (s, u)
        return self._table

    def evaluate(self, ds):
        ds = np.clip(np.asarray(ds, float), 0.0, self.length)
        s_tab, u_tab = self._grid()
        u = np.interp(ds, s_tab, u_tab)
        x, y = self._local_to_world(u, self._v(u))
        return x, y, self.hdg + np.arctan(self._dv(u))

    def max_curvature(self) -> float:
        u = np.linspace(0.0, self.length, 64)
        dv = self._dv(u)
        ddv = 2 * self.c + 6 * self.d * u
        return float(np.max(np.abs(ddv) / (1 + dv**2) ** 1.5))


@dataclass
class ParamPoly3(Geometry):
    au: float = 0.0
    bu: float = 1.0
    cu: float = 0.0
    du: float = 0.0
    av: float = 0.0
    bv: float = 0.0
    cv: float = 0.0
    dv: float = 0.0
    p_range: str = "arcLength"  # "arcLength" | "normalized"
    kind: str = "paramPoly3"

    @property
    def p_max(self) -> float:
        return 1.0 if self.p_range == "normalized" else self.length

    def uv(self, p):
        p = np.asarray(p, float)
        u = self.au + p * (self.bu + p * (self.cu + p * self.du))
        v = self.av + p * (self.bv + p * (self.cv + p * self.dv))
        return u, v

    def evaluate(self, ds):
        ds = np.clip(np.asarray(ds, float), 0.0, self.length)
        p = ds * (self.p_max / self.length)
        u, v = self.uv(p)
        du = self.bu + p * (2 * self.cu + 3 * self.du * p)
        dv = self.bv + p * (2 * self.cv + 3 * self.dv * p)
        x, y = self._local_to_world(u, v)
        h = self.hdg + np.where((np.abs(du) + np.abs(dv)) > 1e-12, np.arctan2(dv, du), 0.0)
        return x, y, h

    def max_curvature(self) -> float:
        p = np.linspace(0.0, self.p_max, 64)
        du = self.bu + p * (2 * self.cu + 3 * self.du * p)
        dv = self.bv + p * (2 * self.cv + 3 * self.dv * p)
        ddu, ddv = 2 * self.cu + 6 * self.du * p, 2 * self.cv + 6 * self.dv * p
        sp = np.maximum(np.hypot(du, dv), 1e-9)
        return float(np.max(np.abs(du * ddv - dv * ddu) / sp**3))


class ReferenceLine:
    """The planView: geometries sorted by s; `evaluate(s)` gives ODR (x, y, heading) at road arc lengths s
    (clipped to [0, length]); `point(s, t)` the ODR point at lateral offset t (left positive)."""

    def __init__(self, geometries: list[Geometry]):
        if not geometries:
            raise ValueError("a reference line needs at least one geometry")
        self.geometries = sorted(geometries, key=lambda g: g.s)
        self._starts = np.array([g.s for g in self.geometries])

    @property
    def length(self) -> float:
        g = self.geometries[-1]
        return float(g.s + g.length)

    def evaluate(self, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = np.clip(np.atleast_1d(np.asarray(s, float)), 0.0, self.length)
        idx = np.clip(np.searchsorted(self._starts, s, side="right") - 1, 0, len(self.geometries) - 1)
        x, y, h = np.empty(s.shape), np.empty(s.shape), np.empty(s.shape)
        for i in np.unique(idx):
            m = idx == i
            g = self.geometries[i]
            x[m], y[m], h[m] = g.evaluate(s[m] - g.s)
        return x, y, h

    def point(self, s, t) -> tuple[np.ndarray, np.ndarray]:
        x, y, h = self.evaluate(s)
        t = np.asarray(t, float)
        return x - t * np.sin(h), y + t * np.cos(h)

    def sample_s(self, max_step: float = 1.0, tolerance: float = 0.005) -> np.ndarray:
        """Arc lengths at which the line is sampled for polylines: every geometry start/end, and inside each
        geometry a step short enough that the chord error stays below `tolerance` metres (step^2 k / 8)."""
        out = [np.array([self.length])]
        for g in self.geometries:
            k = g.max_curvature()
            step = max_step if k < 1e-9 else float(np.clip(np.sqrt(8.0 * tolerance / k), 0.05, max_step))
            n = max(1, int(np.ceil(g.length / step)))
            out.append(g.s + np.linspace(0.0, g.length, n + 1)[:-1])
        return np.unique(np.clip(np.concatenate(out), 0.0, self.length))
