"""Lamps of the dusk and night looks: street and vehicle lamps lighting their surroundings, glare at the visible
emitters and halos of lamp light scattered by fog, rain and snow (lit windows: sdg.augment.looks.windows).

Lamp rows are ``u, v, z, r, g, b, intensity`` (sdg.augment.lights). A lamp of intensity I adds irradiance
``gain * S * I / (d^2 + EPS) * (0.25 + 0.75 cos_surface)`` at distance d (emitters only downwards, cos^2 of the
nadir angle; beam spots, I < 0, fall off as an inverse cube). Irradiance is computed at 1/4 resolution; the lamps
present, identical, in every frame of a clip (street lamps of a static camera) are computed once per clip on its
static background and recomputed per frame only where a moving object hides that background; moving lamps are
computed per frame at 1/8 resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from sdg.augment.looks.geometry import ClipGeometry, normals_from_points
from sdg.augment.looks.resample import LinearTables, linear_tables

S_EMIT = 6.0  # emitters (street lamps, vehicle lamps): luminaires lighting downwards (cos^2 of the nadir angle)
S_BEAM = 3.5  # beam spots (negative intensity rows): isotropic, falloff s / (d^2 + eps)^1.5
LIGHT_EPS = 1.0  # m^2
E_MIN = 0.006  # irradiance below which a lamp's contribution is ignored (window culling)
LAMP_STEP = 4  # irradiance is computed at 1/4 resolution (moving lamps at 1/8) and upsampled
SPRITE_FLOOR = 0.003  # linear level where a glare sprite is cut


# ------------------------------------------------------------------------------------------------ lamps
def static_rows(lights: list[np.ndarray]) -> np.ndarray:
    """The lamp rows (rounded, see lamp_rows) present in every frame, sorted."""
    sets = [set(map(tuple, np.round(rows.astype(np.float64), 4).tolist())) for rows in lights]
    common = set.intersection(*sets) if sets else set()
    return np.array(sorted(common), np.float32).reshape(-1, 7)


@dataclass
class LampField:
    """Per-clip lamp lighting: the static lamps' rows and their irradiance on the clip's background at 1/4
    resolution."""

    geo: ClipGeometry
    gain: float
    rows: np.ndarray  # (n, 7) static rows
    row_set: set
    bg_z: np.ndarray  # (h4, w4) background depth at the 1/4 grid
    irr: np.ndarray  # (h4, w4, 3) static irradiance
    tables: LinearTables  # sampling the 1/4 grid at full resolution

    @classmethod
    def of_clip(cls, lights: list[np.ndarray], bg_depth: np.ndarray, geo: ClipGeometry, gain: float) -> LampField:
        rows = static_rows(lights)
        pts = geo.points(bg_depth, LAMP_STEP)
        nrm = normals_from_points(pts)
        irr = np.zeros(pts.shape, np.float32)
        cls._windowed(rows, pts, nrm, irr, geo, gain, LAMP_STEP)
        return cls(geo, gain, rows, set(map(tuple, rows.astype(np.float64).tolist())), pts[..., 2].copy(), irr,
                   linear_tables(irr.shape[:2], (geo.height, geo.width)))

    @staticmethod
    def _windowed(rows, pts, nrm, irr, geo, gain, step):
        if len(rows):
            _lamps_windowed(np.ascontiguousarray(rows, np.float32), pts, nrm, irr, step, geo.focal, geo.width,
                            geo.height, gain, geo.up.astype(np.float64))

    def irradiance(self, depth: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(h4, w4, 3) irradiance of one frame (cleaned ``depth``, all its lamp ``rows``): the static lamps'
        cached field, recomputed where the frame differs from the background, plus the moving lamps at 1/8
        resolution (upsampled)."""
        geo = self.geo
        pts = geo.points(depth, LAMP_STEP)
        nrm = normals_from_points(pts)
        irr = self.irr.copy()
        if len(self.rows):
            _lamps_where_changed(np.ascontiguousarray(self.rows, np.float32), pts, nrm, irr, self.bg_z, geo.focal,
                                 geo.width, geo.height, self.gain, geo.up.astype(np.float64))
        dynamic = [r for r in np.round(rows.astype(np.float64), 4).tolist() if tuple(r) not in self.row_set]
        if dynamic:  # moving lamps (vehicles): soft pools, computed at 1/8 resolution
            pts8 = geo.points(depth, 2 * LAMP_STEP)
            nrm8 = normals_from_points(pts8)
            irr8 = np.zeros(pts8.shape, np.float32)
            self._windowed(np.asarray(dynamic, np.float32), pts8, nrm8, irr8, geo, self.gain, 2 * LAMP_STEP)
            irr += cv2.resize(irr8, (irr.shape[1], irr.shape[0]), interpolation=cv2.INTER_LINEAR)
        return irr


@njit(cache=True)
def _lamp_setup(row, focal, width, height, gain):
    """Per-lamp constants: (ok, emit, s, lx, ly, z, r, g, b) with s = gain * S * |I|, (lx, ly, z) the lamp in camera
    coordinates, rgb its colour 0..1 (float32)."""
    u, v, z, inten = np.float64(row[0]), np.float64(row[1]), np.float64(row[2]), np.float64(row[6])
    emit = inten > 0
    s = (S_EMIT if emit else S_BEAM) * abs(inten) * gain
    lx, ly = (u - width / 2.0) / focal * z, (v - height / 2.0) / focal * z
    k = np.float32(255.0)
    return (z > 0.1 and inten != 0.0), emit, s, lx, ly, z, row[3] / k, row[4] / k, row[5] / k


@njit(cache=True)
def _lamp_e(emit, s32, lx, ly, z, px, py, pz, nx, ny, nz, ux, uy, uz):
    """One lamp's irradiance (float32 scalar) at a point with normal n (up = (ux, uy, uz), float32)."""
    dx, dy, dz = lx - px, ly - py, z - pz
    d2 = dx * dx + dy * dy + dz * dz
    inv = np.float32(1.0) / np.sqrt(d2 + np.float32(1e-6))
    e = s32 / (d2 + np.float32(LIGHT_EPS))
    if not emit:  # beam spots: a tighter pool (inverse cube), so a chain of them reads as a beam
        e /= np.sqrt(d2 + np.float32(LIGHT_EPS))
    lam = (nx * dx + ny * dy + nz * dz) * inv
    e *= np.float32(0.25) + np.float32(0.75) * min(max(lam, np.float32(0.0)), np.float32(1.0))
    if emit:  # luminaires throw their light downwards: intensity ~ cos^2 of the angle from the nadir
        down = min(max((dx * ux + dy * uy + dz * uz) * inv, np.float32(0.0)), np.float32(1.0))
        e *= np.float32(0.03) + down * down
    return e


@njit(cache=True, error_model="numpy")
def _lamps_windowed(rows, pts, nrm, irr, step, focal, width, height, gain, up):
    """Add each lamp's irradiance to ``irr`` inside the window where it can exceed E_MIN."""
    h4, w4 = pts.shape[:2]
    ux, uy, uz = np.float32(up[0]), np.float32(up[1]), np.float32(up[2])
    for i in range(rows.shape[0]):
        ok, emit, s, lx, ly, z, cr, cg, cb = _lamp_setup(rows[i], focal, width, height, gain)
        if not ok:
            continue
        u, v = np.float64(rows[i, 0]), np.float64(rows[i, 1])
        reach = math.sqrt(s / E_MIN) if emit else (s / E_MIN) ** (1.0 / 3.0)
        rad = reach * focal / step / max(z - reach, 0.5)
        x0, x1 = int(max(0.0, u / step - rad)), int(min(float(w4), u / step + rad + 1))
        y0, y1 = int(max(0.0, v / step - rad)), int(min(float(h4), v / step + rad + 1))
        s32, lx32, ly32, z32 = np.float32(s), np.float32(lx), np.float32(ly), np.float32(z)
        for y in range(y0, y1):
            for x in range(x0, x1):
                e = _lamp_e(emit, s32, lx32, ly32, z32, pts[y, x, 0], pts[y, x, 1], pts[y, x, 2], nrm[y, x, 0],
                            nrm[y, x, 1], nrm[y, x, 2], ux, uy, uz)
                irr[y, x, 0] += e * cr
                irr[y, x, 1] += e * cg
                irr[y, x, 2] += e * cb


@njit(cache=True, error_model="numpy")
def _lamps_where_changed(rows, pts, nrm, irr, bg_z, focal, width, height, gain, up):
    """Replace ``irr`` by all lamps' irradiance (no window culling) where the frame's depth left the background."""
    h4, w4 = pts.shape[:2]
    ux, uy, uz = np.float32(up[0]), np.float32(up[1]), np.float32(up[2])
    n = rows.shape[0]
    setup = np.zeros((n, 8), np.float32)
    ok = np.zeros(n, np.bool_)
    emit = np.zeros(n, np.bool_)
    for i in range(n):
        good, em, s, lx, ly, z, cr, cg, cb = _lamp_setup(rows[i], focal, width, height, gain)
        ok[i], emit[i] = good, em
        setup[i, 0], setup[i, 1], setup[i, 2], setup[i, 3] = s, lx, ly, z
        setup[i, 4], setup[i, 5], setup[i, 6] = cr, cg, cb
    for y in range(h4):
        for x in range(w4):
            bz = bg_z[y, x]
            if not abs(pts[y, x, 2] - bz) > np.float32(0.02) * bz + np.float32(0.05):
                continue
            ar, ag, ab = np.float32(0.0), np.float32(0.0), np.float32(0.0)
            for i in range(n):
                if not ok[i]:
                    continue
                e = _lamp_e(emit[i], setup[i, 0], setup[i, 1], setup[i, 2], setup[i, 3], pts[y, x, 0], pts[y, x, 1],
                            pts[y, x, 2], nrm[y, x, 0], nrm[y, x, 1], nrm[y, x, 2], ux, uy, uz)
                ar += e * setup[i, 4]
                ag += e * setup[i, 5]
                ab += e * setup[i, 6]
            irr[y, x, 0] = ar
            irr[y, x, 1] = ag
            irr[y, x, 2] = ab


@dataclass
class StaticHalos:
    """Per clip: the halos of the lamps present bit for bit in every frame (street lamps), drawn once."""

    buf: np.ndarray | None  # (H, W, 3) float32, None without any
    keys: set  # the static rows' bytes

    @classmethod
    def of_clip(cls, lights: list[np.ndarray], geo: ClipGeometry, gain: float, beta: float, scale: float
                ) -> StaticHalos:
        common = set.intersection(*({r.tobytes() for r in rows} for rows in lights)) if lights else set()
        rows = np.array([r for r in (lights[0] if lights else []) if r.tobytes() in common], np.float32)
        sprites = halo_sprites(rows.reshape(-1, 7), geo.focal, gain, beta, scale)
        buf = None
        if len(sprites):
            buf = np.zeros((geo.height, geo.width, 3), np.float32)
            add_sprites(buf, sprites)
        return cls(buf, common)

    def moving(self, rows: np.ndarray) -> np.ndarray:
        """The rows of a frame that are not static."""
        return np.array([r for r in rows if r.tobytes() not in self.keys], np.float32).reshape(-1, 7)


# ------------------------------------------------------------------------------------------------ sprites
def glare_sprites(rows: np.ndarray, depth: np.ndarray, focal: float, gain: float, beta: float, scale: float
                  ) -> np.ndarray:
    """Sprite parameters (n, 10) for the glare at the visible emitters: the lamp's disc (~0.1 m radius) as a
    Gaussian core (below 0.7 px it keeps its energy: dimmer, not bigger) and lens glare whose size follows the
    image size, stronger in fog."""
    rows = np.asarray(rows, np.float32).reshape(-1, 7)
    r64 = rows.astype(np.float64)
    keep = (r64[:, 6] > 0) & (r64[:, 2] > 0.1)
    keep[keep] = _emitters_visible(r64[keep, 0], r64[keep, 1], r64[keep, 2], depth)
    rows, r64 = rows[keep], r64[keep]
    fog = 1.0 - np.exp(-beta * 30.0)
    size = 0.1 * focal / r64[:, 2]
    core = np.clip(size, 0.7, 10.0)
    amp = r64[:, 6] * gain
    core_amp = 4.0 * amp * np.minimum(1.0, (size / core) ** 2 * 4.0)
    halo_r = np.maximum(4.0 * core, 5.0 * scale)
    return _sprites(rows, core, core_amp, (0.04 + 0.25 * fog) * amp, halo_r, np.full(len(rows), 300.0 * scale))


def halo_sprites(rows: np.ndarray, focal: float, gain: float, beta: float, scale: float) -> np.ndarray:
    """Sprite parameters (n, 10) of in-scattered lamp light: wide soft halos around the emitters, growing with the
    optical depth (drawn whether or not the emitter itself is hidden)."""
    rows = np.asarray(rows, np.float32).reshape(-1, 7)
    r64 = rows.astype(np.float64)
    z, inten = r64[:, 2], r64[:, 6]
    scat = (1.0 - np.exp(-beta * z)) * np.exp(-beta * z * 0.5)
    amp = 0.1 * inten * gain * scat
    keep = (inten > 0) & (z > 0.1) & ~(amp < 1e-3)
    rows, z, amp = rows[keep], z[keep], amp[keep]
    halo = np.clip(2.5 * focal / z, 6.0, 220.0 * scale)
    return _sprites(rows, halo / 4.0, np.zeros(len(rows)), amp, halo, 3.0 * halo)


def _sprites(rows, core_r, core_amp, halo_amp, halo_r, max_radius) -> np.ndarray:
    col = rows[:, 3:6] / np.float32(255.0)
    return np.column_stack([rows[:, 0], rows[:, 1], col, core_r, core_amp, halo_amp, halo_r, max_radius]
                           ).astype(np.float64).reshape(-1, 10)


@njit(cache=True)
def _emitters_visible(u, v, z, depth):
    """Per lamp: off-screen, or the median depth of the 3 x 3 pixels around it is not nearer than the lamp."""
    h, w = depth.shape
    out = np.ones(u.size, np.bool_)
    patch = np.empty(9, depth.dtype)
    two = depth.dtype.type(2.0)
    for i in range(u.size):
        iu, iv = int(np.floor(u[i])), int(np.floor(v[i]))
        if not (0 <= iu < w and 0 <= iv < h):
            continue  # off-screen: only its glare's tail shows
        n = 0
        for y in range(max(0, iv - 1), min(h, iv + 2)):
            for x in range(max(0, iu - 1), min(w, iu + 2)):
                patch[n] = depth[y, x]
                n += 1
        s = np.sort(patch[:n])
        med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / two
        out[i] = med >= z[i] - max(0.3, 0.02 * z[i])
    return out


def add_sprites(img: np.ndarray, sprites: np.ndarray) -> None:
    """Add glare sprites to a (H, W, 3) float32 image in place, one per row of ``sprites`` (u, v, r, g, b, core_r,
    core_amp, halo_amp, halo_r, max_radius): a Gaussian core of sigma core_r px and amplitude core_amp plus a
    power-law halo ``halo_amp / (1 + r^2 / halo_r^2)^1.5``, centred at continuous (u, v), cut where both terms
    fall below SPRITE_FLOOR (at most max_radius px)."""
    if len(sprites):
        _add_sprites(img, np.ascontiguousarray(sprites, np.float64))


@njit(cache=True, error_model="numpy")
def _add_sprites(img, sprites):
    h, w = img.shape[:2]
    for i in range(sprites.shape[0]):
        u, v = sprites[i, 0], sprites[i, 1]
        col = (np.float32(sprites[i, 2]), np.float32(sprites[i, 3]), np.float32(sprites[i, 4]))
        core_r, core_amp, halo_amp, halo_r, max_radius = (sprites[i, 5], sprites[i, 6], sprites[i, 7],
                                                          sprites[i, 8], sprites[i, 9])
        r_core = core_r * math.sqrt(2.0 * math.log(core_amp / SPRITE_FLOOR)) if core_amp > SPRITE_FLOOR else 0.0
        q = (halo_amp / SPRITE_FLOOR) ** (2.0 / 3.0)
        r_halo = halo_r * math.sqrt(q - 1.0) if q > 1.0 else 0.0
        radius = min(max(r_core, r_halo, 1.0), max_radius)
        x0, x1 = int(max(0.0, math.floor(u - radius))), int(min(float(w), math.ceil(u + radius)))
        y0, y1 = int(max(0.0, math.floor(v - radius))), int(min(float(h), math.ceil(v + radius)))
        ou, ov = np.float32(0.5 - u), np.float32(0.5 - v)
        ca, ck = np.float32(core_amp), np.float32(-0.5 / (core_r * core_r))
        ha, hk = np.float32(halo_amp), np.float32(1.0 / (halo_r * halo_r))
        for y in range(y0, y1):
            dy = np.float32(y) + ov
            for x in range(x0, x1):
                dx = np.float32(x) + ou
                r2 = dx * dx + dy * dy
                prof = np.float32(0.0)
                if core_amp > 0:
                    prof += ca * np.exp(r2 * ck)
                if halo_amp > 0:
                    t = np.float32(1.0) + r2 * hk
                    prof += ha / (t * np.sqrt(t))
                for c in range(3):
                    img[y, x, c] += prof * col[c]
