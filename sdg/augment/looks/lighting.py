"""The lighting stage: day (unchanged), dusk (golden-hour split toning, warm sky gradient with a sun glow) and night
(sun shadows lifted, day contrast compressed, dim blue ambient, near-black sky with a horizon glow), in one pass
per frame that also adds the lamps' light (irradiance from sdg.augment.looks.lamps, sampled bilinearly).

Per clip: the ground de-shadowing gain (from the clip's static background) and the sky colour map. Per frame: one
numba pass from the sRGB frame to the lit linear frame (decode, de-shadow, grade, saturation, contrast, sky, lamp
light), after a cheap statistics pass (mean sky luminance, mean luminance for the contrast)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from sdg.augment.looks.colour import (
    DECODE,
    decode_pow_table,
    linear_to_srgb,
    luminance,
    luminance_px,
    rgb32,
    srgb_to_linear,
)
from sdg.augment.looks.geometry import ClipGeometry
from sdg.augment.looks.params import DUSK_SHADOW_TINT, GROUND_TAGS, LookParams
from sdg.augment.looks.resample import NO_TABLES, LinearTables, vblend, widen

NIGHT_GAMMA = 0.6  # night: day^0.6 compresses the sun/shadow contrast into an albedo-ish base
NIGHT_ALBEDO_GAMMA = 0.8  # night: lamps light day^0.8
_POW_BASE = decode_pow_table(NIGHT_GAMMA)
_POW_ALBEDO = decode_pow_table(NIGHT_ALBEDO_GAMMA)
_EMPTY3 = np.zeros((1, 1, 3), np.float32)
_EMPTY2 = np.zeros((1, 1), np.float32)


def ground_deshadow_gain(lin: np.ndarray, sem: np.ndarray) -> np.ndarray:
    """(H, W) float32 gain >= 1 that lifts sun shadows out of the flat ground classes: within each class the
    shading is the class-only median luminance (5 x 5, edge-preserving, texture-free) over the class's sunlit
    level (its 90th percentile); gain = 1 / shading, at most 6. 1 elsewhere. For overcast and night looks."""
    index, table = _deshadow_table(lin, sem)
    return table[index]


def _deshadow_table(lin: np.ndarray, sem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ground_deshadow_gain as (H, W) uint16 index into a float32 table (entry 0 = gain 1): the gain of a pixel is
    a function of its class and its median's sRGB code, so powers of the gain are table look-ups too."""
    h, w = sem.shape
    index = np.zeros((h, w), np.uint16)
    tables = [np.ones(1, np.float32)]
    y = linear_to_srgb(luminance(lin))
    sem = np.ascontiguousarray(sem)
    for tag in GROUND_TAGS:
        box = _class_box(sem, tag)  # y0, y1, x0, x1, count
        if box[4] < 50:
            continue
        # the class-only 5 x 5 median on the class's bounding box (+ the filter's reach): other pixels are a 0/255
        # checkerboard, which leaves the median of the class's pixels in place
        y0, y1, x0, x1 = max(box[0] - 2, 0), min(box[1] + 3, h), max(box[2] - 2, 0), min(box[3] + 3, w)
        med = cv2.medianBlur(_class_only(sem, y, tag, y0, y1, x0, x1), 5)
        hist = np.zeros(256, np.int64)
        _class_codes(sem, med, tag, y0, x0, index, 256 * (len(tables) - 1) + 1, hist)
        sunlit = float(np.percentile(np.repeat(DECODE, hist), 90.0))
        if sunlit <= 1e-4:
            index[index >= 256 * (len(tables) - 1) + 1] = 0
            continue
        tables.append(1.0 / np.clip(DECODE / sunlit, 1.0 / 6.0, 1.0))
    return index, np.concatenate(tables).astype(np.float32)


@njit(cache=True)
def _class_box(sem, tag):
    h, w = sem.shape
    y0, y1, x0, x1, n = h, -1, w, -1, 0
    for y in range(h):
        for x in range(w):
            if sem[y, x] == tag:
                y0, y1, x0, x1, n = min(y0, y), max(y1, y), min(x0, x), max(x1, x), n + 1
    return y0, y1, x0, x1, n


@njit(cache=True)
def _class_only(sem, y, tag, y0, y1, x0, x1):
    out = np.empty((y1 - y0, x1 - x0), np.uint8)
    for i in range(y0, y1):
        for j in range(x0, x1):
            out[i - y0, j - x0] = y[i, j] if sem[i, j] == tag else ((i + j) % 2) * 255
    return out


@njit(cache=True)
def _class_codes(sem, med, tag, y0, x0, index, base, hist):
    for i in range(med.shape[0]):
        for j in range(med.shape[1]):
            if sem[y0 + i, x0 + j] == tag:
                c = med[i, j]
                index[y0 + i, x0 + j] = base + c
                hist[c] += 1


@dataclass
class Deshadow:
    """Per clip: the ground de-shadowing gain (and its powers for the night's gammas) and the background depth
    where it applies (a frame pixel takes the gain when it still shows the background)."""

    gain: np.ndarray  # (H, W) float32
    gain_base: np.ndarray  # gain ** NIGHT_GAMMA
    gain_albedo: np.ndarray  # gain ** NIGHT_ALBEDO_GAMMA
    bg_depth: np.ndarray  # (H, W) float32, cleaned

    @classmethod
    def of_background(cls, bg_rgb: np.ndarray, bg_sem: np.ndarray, bg_depth: np.ndarray, night: bool) -> Deshadow:
        index, table = _deshadow_table(srgb_to_linear(bg_rgb), bg_sem)
        gain = table[index]
        if night:
            t64 = table.astype(np.float64)
            base = (t64 ** NIGHT_GAMMA).astype(np.float32)[index]
            albedo = (t64 ** NIGHT_ALBEDO_GAMMA).astype(np.float32)[index]
        else:
            base = albedo = gain
        return cls(gain, base, albedo, bg_depth)


def sky_map(geo: ClipGeometry, lighting: str, p: LookParams) -> np.ndarray:
    """(H, W, 3) linear sky colour for dusk / night by elevation above the horizon (per clip): colour stops
    interpolated linearly in the elevation (as np.interp); at dusk plus a warm glow around the sun's azimuth near
    the horizon, scaled by the exposure."""
    if lighting == "dusk":
        stops_e = np.array([0.0, 0.08, 0.25, 0.6, 1.0], dtype=np.float32)
        stops_c = np.array([[1.0, 0.42, 0.12], [0.85, 0.32, 0.16], [0.42, 0.22, 0.3], [0.1, 0.11, 0.28],
                            [0.05, 0.06, 0.18]], dtype=np.float32)
    else:  # night: faint warm light-pollution glow at the horizon fading to near black
        stops_e = np.array([0.0, 0.1, 0.35, 1.0], dtype=np.float32)
        stops_c = np.array([[0.016, 0.012, 0.011], [0.008, 0.008, 0.012], [0.003, 0.0035, 0.007],
                            [0.0015, 0.002, 0.0045]], dtype=np.float32)
    col = np.empty((geo.height, geo.width, 3), np.float32)
    dusk = lighting == "dusk"
    du = ((np.arange(geo.width, dtype=np.float32) + 0.5 - p.sun_u * geo.width) / (0.3 * geo.width)) ** 2
    _sky_kernel(geo.elevation, stops_e.astype(np.float64), stops_c.astype(np.float64), dusk, np.exp(-du),
                np.float32(p.exposure / 0.5), col)
    return col


@njit(cache=True, error_model="numpy")
def _sky_kernel(elevation, xp, fp, dusk, glow_u, gain, out):
    h, w = elevation.shape
    n = xp.size
    glow_c = (np.float32(1.2), np.float32(0.55), np.float32(0.15))
    for y in range(h):
        for x in range(w):
            e = min(max(elevation[y, x], np.float32(0.0)), np.float32(1.0))
            e64 = np.float64(e)
            j = 0
            while j < n - 1 and xp[j + 1] <= e64:
                j += 1
            for c in range(3):
                if j >= n - 1 or xp[j] == e64:
                    v = fp[j, c]
                else:
                    v = (fp[j + 1, c] - fp[j, c]) / (xp[j + 1] - xp[j]) * (e64 - xp[j]) + fp[j, c]
                out[y, x, c] = np.float32(v)
            if dusk:
                glow = glow_u[x] * np.exp(-(e / np.float32(0.07)))
                for c in range(3):
                    out[y, x, c] = (out[y, x, c] + glow * glow_c[c]) * gain


def light_frame(rgb: np.ndarray, depth: np.ndarray, sky: np.ndarray, lighting: str, p: LookParams,
                deshadow: Deshadow | None, sky_colour: np.ndarray | None, irradiance: np.ndarray | None,
                tables: LinearTables | None, out: np.ndarray) -> np.ndarray:
    """The lit linear frame (H, W, 3) float32, written into ``out``: ``rgb`` decoded, de-shadowed (``deshadow``,
    where the frame shows the background), graded for ``lighting`` (day: not at all, the weather grades it), the
    sky replaced by ``sky_colour`` (textured by the day sky), and lamp light added (``irradiance`` (h, w, 3) at a
    lower resolution, sampled through ``tables``, times the pixel's albedo: the day colour, or day^0.8 at night)."""
    mode = {"day": 0, "night": 1, "dusk": 2}[lighting]
    ds = deshadow is not None
    lamps = irradiance is not None
    t = tables if lamps else NO_TABLES
    irradiance = widen(irradiance, tables) if lamps else _EMPTY3
    _light_kernel(rgb, depth, sky, DECODE, _POW_BASE, _POW_ALBEDO, mode,
                  rgb32(np.asarray(p.tint, np.float32) * np.float32(p.exposure)), rgb32(p.tint),
                  rgb32(DUSK_SHADOW_TINT), np.float32(p.exposure),
                  np.float32(1.0 if mode == 0 else p.saturation), float(p.contrast), ds, *(
                      (deshadow.gain, deshadow.gain_base, deshadow.gain_albedo, deshadow.bg_depth) if ds
                      else (_EMPTY2,) * 4),
                  sky_colour if sky_colour is not None else _EMPTY3, sky_colour is not None,
                  irradiance, t.y0, t.y1, t.wy, lamps, out)
    return out


@njit(cache=True)
def _grade(r, g, b, p0, p1, p2, mode, te, warm, cool, exposure, sat):
    """Grade one day pixel (r, g, b; p0..p2 its night base day^0.6): night base x tint x exposure, dusk split
    toning, day unchanged; then the saturation. Scalars and tuples only, so it inlines into the kernels."""
    if mode == 1:
        r, g, b = p0 * te[0], p1 * te[1], p2 * te[2]
    elif mode == 2:
        w = (luminance_px(r, g, b) - np.float32(0.02)) / np.float32(0.25)
        w = min(max(w, np.float32(0.0)), np.float32(1.0))
        r = r * (cool[0] + w * (warm[0] - cool[0])) * exposure
        g = g * (cool[1] + w * (warm[1] - cool[1])) * exposure
        b = b * (cool[2] + w * (warm[2] - cool[2])) * exposure
    if sat != np.float32(1.0):
        lum = luminance_px(r, g, b)
        r, g, b = lum + (r - lum) * sat, lum + (g - lum) * sat, lum + (b - lum) * sat
    return r, g, b


@njit(cache=True, error_model="numpy")
def _light_kernel(rgb, depth, sky, decode, pow_base, pow_albedo, mode, te, warm, cool, exposure, sat, contrast,
                  ds, gain, gain_base, gain_albedo, bg_depth, sky_colour, use_sky,
                  irr, ty0, ty1, twy, lamps, out):
    h, w = depth.shape
    one = np.float32(1.0)
    near_k, near_c = np.float32(0.02), np.float32(0.05)
    # statistics: mean day luminance of the sky (its texture), mean graded luminance on a 1/4 grid (contrast)
    sky_sum, sky_n, c_sum, c_n = 0.0, 0, 0.0, 0
    use_contrast = contrast != 1.0
    if use_sky or use_contrast:
        for y in range(h):
            for x in range(w):
                stat_sky = use_sky and sky[y, x]
                stat_c = use_contrast and y % 4 == 0 and x % 4 == 0
                if not (stat_sky or stat_c):
                    continue
                g, gb = one, one
                if ds:
                    bgd = bg_depth[y, x]
                    if abs(depth[y, x] - bgd) <= near_k * bgd + near_c:
                        g, gb = gain[y, x], gain_base[y, x]
                i0, i1, i2 = rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2]
                d0, d1, d2 = decode[i0] * g, decode[i1] * g, decode[i2] * g
                if stat_sky:
                    sky_sum += luminance_px(d0, d1, d2)
                    sky_n += 1
                if stat_c:
                    r, gg, b = _grade(d0, d1, d2, pow_base[i0] * gb, pow_base[i1] * gb, pow_base[i2] * gb, mode, te,
                                      warm, cool, exposure, sat)
                    c_sum += luminance_px(r, gg, b)
                    c_n += 1
    sky_div = np.float32(max(sky_sum / max(sky_n, 1), 1e-4))
    c_gain = np.float32(contrast)
    c_off = np.float32((1.0 - contrast) * (c_sum / max(c_n, 1)))
    for y in range(h):
        if lamps:
            y0, y1, wy = ty0[y], ty1[y], twy[y]
        for x in range(w):
            g, gb, ga = one, one, one
            if ds:
                bgd = bg_depth[y, x]
                if abs(depth[y, x] - bgd) <= near_k * bgd + near_c:
                    g, gb, ga = gain[y, x], gain_base[y, x], gain_albedo[y, x]
            i0, i1, i2 = rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2]
            d0, d1, d2 = decode[i0] * g, decode[i1] * g, decode[i2] * g
            if use_sky and sky[y, x]:
                tex = min(max(luminance_px(d0, d1, d2) / sky_div, np.float32(0.3)), np.float32(2.0))
                k = np.float32(0.7) + np.float32(0.3) * tex
                out[y, x, 0] = sky_colour[y, x, 0] * k
                out[y, x, 1] = sky_colour[y, x, 1] * k
                out[y, x, 2] = sky_colour[y, x, 2] * k
                continue
            r, gg, b = _grade(d0, d1, d2, pow_base[i0] * gb, pow_base[i1] * gb, pow_base[i2] * gb, mode, te, warm,
                              cool, exposure, sat)
            if use_contrast:
                r, gg, b = r * c_gain + c_off, gg * c_gain + c_off, b * c_gain + c_off
            if lamps and not sky[y, x]:
                if mode == 1:
                    d0, d1, d2 = pow_albedo[i0] * ga, pow_albedo[i1] * ga, pow_albedo[i2] * ga
                r += d0 * vblend(irr[y0, x, 0], irr[y1, x, 0], wy)
                gg += d1 * vblend(irr[y0, x, 1], irr[y1, x, 1], wy)
                b += d2 * vblend(irr[y0, x, 2], irr[y1, x, 2], wy)
            out[y, x, 0] = r
            out[y, x, 1] = gg
            out[y, x, 2] = b
