"""The weather stage's per-pixel pass: the overcast grade and grey sky of rain and snow, fog's desaturation,
Koschmieder haze (``I = I0 e^(-beta d) + A (1 - e^(-beta d))``, d the ray distance), the lamps' halos and the snow
cover on up-facing surfaces, fused into one numba pass over the frame (after a pass over the sky for its mean).
Falling particles (rain streaks, snow flakes) are sdg.augment.looks.particles."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sdg.augment.base import stable_seed
from sdg.augment.looks.colour import luminance_px, rgb32
from sdg.augment.looks.geometry import ClipGeometry
from sdg.augment.looks.params import SKY_TAG, LookParams
from sdg.augment.looks.patterns import smooth_noise
from sdg.augment.looks.resample import NO_TABLES, LinearTables, bilerp, linear_tables

# Snow: share of an up-facing surface covered, and a typical albedo (linear) to recover the shading, per tag.
SNOW_AMOUNT = np.full(256, 0.85, np.float32)
SNOW_ALBEDO = np.full(256, 0.2, np.float32)
for _tag, _amount, _albedo in ((1, 0.72, 0.1), (24, 0.72, 0.35), (2, 0.95, 0.22), (10, 1.0, 0.12), (25, 1.0, 0.15),
                               (9, 0.9, 0.08), (3, 0.95, 0.2), (SKY_TAG, 0.0, 1.0)):
    SNOW_AMOUNT[_tag], SNOW_ALBEDO[_tag] = _amount, _albedo
SNOW_AMOUNT[[12, 13]] = 0.0  # people: no snow caps
SNOW_AMOUNT[14:20] = 0.3  # vehicles in traffic: a dusting on roofs and bonnets, their colour stays readable
SNOW_COLOUR = np.array([0.96, 0.98, 1.04], np.float32)
SNOW_FACING = (0.55, 0.3)  # cover = smoothstep-ish clip((normal . up - 0.55) / 0.3, 0, 1)

_EMPTY3 = np.zeros((1, 1, 3), np.float32)
_EMPTY2 = np.zeros((1, 1), np.float32)


def koschmieder(lin: np.ndarray, ray_distance: np.ndarray, beta: float, airlight) -> np.ndarray:
    """Koschmieder's law on linear RGB (H, W, 3): ``I0 e^(-beta d) + A (1 - e^(-beta d))``. ``ray_distance`` (H, W)
    metres along the viewing ray (inf for the sky, which becomes pure airlight); beta in 1/m. Returns a new array.
    (The weather pass computes the same per pixel, inside its fused kernel.)"""
    t = np.exp(ray_distance.astype(np.float32) * np.float32(-beta))[..., None]
    a = np.asarray(airlight, dtype=np.float32)
    out = lin - a
    out *= t
    out += a
    return out


@dataclass
class SnowCover:
    """Per clip: the seeded patchiness of the snow cover and the tables that sample its half-resolution slope
    term at full resolution."""

    geo: ClipGeometry
    patch: np.ndarray  # (H, W) 0.75..1
    tables: LinearTables

    @classmethod
    def of_clip(cls, geo: ClipGeometry, seed: int) -> SnowCover:
        n = smooth_noise((geo.height, geo.width), 24, stable_seed(seed, "snowpatch"))
        _, _, ys, xs = geo.grid(2, (geo.height, geo.width))
        return cls(geo, (0.75 + 0.25 * n).astype(np.float32),
                   linear_tables((len(ys), len(xs)), (geo.height, geo.width)))

    def facing(self, depth: np.ndarray) -> np.ndarray:
        """(h, w) float32 0..1 share of snow the surfaces of a frame hold by their slope (half resolution)."""
        lo, span = SNOW_FACING
        return np.clip((self.geo.normals(depth, 2) @ self.geo.up.astype(np.float32) - lo) / span, 0.0, 1.0)


def weather_needs_pass(weather: str, lighting: str, p: LookParams, halo: bool) -> bool:
    """Whether the weather stage changes pixels at all (clear weather by day or night without halos does not)."""
    return (weather in ("rain", "snow") or np.isfinite(p.visibility_m) or halo
            or (weather == "fog" and lighting == "day" and p.saturation != 1.0))


def weather_frame(lin: np.ndarray, depth: np.ndarray, sky: np.ndarray, sem: np.ndarray, ray_len: np.ndarray,
                  weather: str, lighting: str, p: LookParams, halo: np.ndarray | None = None,
                  snow: SnowCover | None = None) -> np.ndarray | None:
    """The weather stage on the lit frame ``lin`` (H, W, 3) float32, in place, in this order:

    - rain and snow: by day the overcast grade (x tint x exposure, saturation; the lighting stage already graded
      dusk and night), then the sky made a grey of the current brightness (0.8 mean + 0.2 own luminance);
      fog by day: the saturation;
    - Koschmieder haze when the visibility is finite, ``ray_len`` (H, W) turning planar depth into ray distance;
    - ``halo`` (H, W, 3) added (lamp light scattered by the haze), when given;
    - snow (``snow`` given for the snow weather): cover = slope term x the tag's amount x patchiness; where > 0.01
      the pixel is pulled towards snow of its own shading (its luminance over a typical albedo of its tag, x 0.85,
      capped above the airlight).

    Returns the snow cover (H, W) float32 (None without snow)."""
    overcast = weather in ("rain", "snow")
    cap = 1.2 * max(float(np.max(p.airlight)), 0.05) + 0.3
    haze = bool(np.isfinite(p.visibility_m))
    if snow is not None:
        cover = np.empty(depth.shape, np.float32)
        snow_args = (snow.facing(depth), *snow.tables, snow.patch, cover)
    else:
        cover = None
        snow_args = (_EMPTY2, *NO_TABLES, _EMPTY2, _EMPTY2)
    _weather_kernel(lin, depth, sky, sem, ray_len, overcast and lighting == "day", rgb32(p.tint),
                    np.float32(p.exposure), np.float32(p.saturation), overcast,
                    rgb32(np.float32(1.6 if lighting == "day" else 1.0) * np.sqrt(np.asarray(p.tint, np.float32))),
                    weather == "fog" and lighting == "day" and p.saturation != 1.0,
                    haze, np.float32(-p.beta if haze else 0.0), rgb32(p.airlight),
                    halo if halo is not None else _EMPTY3, halo is not None, snow is not None, SNOW_AMOUNT,
                    SNOW_ALBEDO, np.float32(cap), rgb32(SNOW_COLOUR), *snow_args)
    return cover


@njit(cache=True)
def _overcast_grade(r, g, b, grade, tint, exposure, sat):
    """By day the weather grades: x tint x exposure, then the saturation (scalars and tuples only)."""
    if grade:
        r, g, b = r * tint[0] * exposure, g * tint[1] * exposure, b * tint[2] * exposure
        if sat != np.float32(1.0):
            lum = luminance_px(r, g, b)
            r, g, b = lum + (r - lum) * sat, lum + (g - lum) * sat, lum + (b - lum) * sat
    return r, g, b


@njit(cache=True, error_model="numpy")
def _weather_kernel(lin, depth, sky, sem, ray_len, grade, tint, exposure, sat, overcast, sky_tint, fog_sat,
                    haze, neg_beta, air, halo, use_halo, snow, amount, albedo, cap, snow_col, facing, ty0, ty1, twy,
                    tx0, tx1, twx, patch, cover):
    h, w = depth.shape
    sky_mean = np.float32(0.0)
    if overcast:  # the grey sky takes the current mean sky luminance
        total, n = 0.0, 0
        for y in range(h):
            for x in range(w):
                if sky[y, x]:
                    r, g, b = _overcast_grade(lin[y, x, 0], lin[y, x, 1], lin[y, x, 2], grade, tint, exposure, sat)
                    total += luminance_px(r, g, b)
                    n += 1
        sky_mean = np.float32(np.float32(0.8) * np.float32(total / max(n, 1)))
    zero = np.float32(0.0)
    for y in range(h):
        if snow:
            y0, y1, wy = ty0[y], ty1[y], twy[y]
        for x in range(w):
            r, g, b = _overcast_grade(lin[y, x, 0], lin[y, x, 1], lin[y, x, 2], grade, tint, exposure, sat)
            is_sky = sky[y, x]
            if overcast and is_sky:
                k = sky_mean + np.float32(0.2) * luminance_px(r, g, b)
                r, g, b = k * sky_tint[0], k * sky_tint[1], k * sky_tint[2]
            elif fog_sat:
                lum = luminance_px(r, g, b)
                r, g, b = lum + (r - lum) * sat, lum + (g - lum) * sat, lum + (b - lum) * sat
            if haze:
                t = zero if is_sky else np.exp(depth[y, x] * ray_len[y, x] * neg_beta)
                r, g, b = (r - air[0]) * t + air[0], (g - air[1]) * t + air[1], (b - air[2]) * t + air[2]
            if use_halo:
                r, g, b = r + halo[y, x, 0], g + halo[y, x, 1], b + halo[y, x, 2]
            if snow:
                s = sem[y, x]
                x0, x1, wx = tx0[x], tx1[x], twx[x]
                f = bilerp(facing[y0, x0], facing[y0, x1], facing[y1, x0], facing[y1, x1], wy, wx)
                c = f * amount[s] * patch[y, x]
                cover[y, x] = c
                if c > np.float32(0.01):
                    lum = np.float32(0.85) * luminance_px(r, g, b) / albedo[s]
                    lum = min(max(lum, zero), cap)
                    r += c * (lum * snow_col[0] - r)
                    g += c * (lum * snow_col[1] - g)
                    b += c * (lum * snow_col[2] - b)
            lin[y, x, 0] = r
            lin[y, x, 1] = g
            lin[y, x, 2] = b
