"""The built-in looks: physically motivated CPU rendering of a Look (weather, lighting, road) onto simulator frames.

Everything is computed from the clean frame, its planar depth (metres) and its CARLA semantic tags, so the output
stays aligned pixel for pixel with the ground truth (no geometric warps). Work happens in linear light (sRGB
decoded); the stages run in the order lighting -> weather -> road -> sensor:

- lighting: ``day`` (unchanged); ``dusk`` (golden-hour split toning: warm light on bright pixels, bluish skylight
  in dark ones, lowered contrast, a warm sky gradient by elevation above the horizon with a sun glow, lamps
  switching on); ``night`` (no sun: the static ground's sun shadows are lifted, the remaining day contrast
  compressed, ambient x ~0.02 with a blue tint, near-black sky with a horizon glow, lit windows on buildings,
  street lamps and vehicle lamps lighting their surroundings with inverse-square falloff (luminaires downwards),
  glare at the visible emitters, headlight beams on the road).
- weather: ``fog`` (Koschmieder: ``I = I0 e^(-beta d) + A (1 - e^(-beta d))``, d the ray distance from the camera
  centre, beta = 3.912 / visibility, lamp halos in-scattered at night), ``rain`` (overcast: sun shadows lifted,
  darker desaturated grade, grey sky, light haze, depth-layered motion-blurred streaks hidden behind nearer
  geometry), ``snow`` (overcast, cold grade, haze, snow cover on up-facing surfaces, depth-layered drifting flakes),
  ``clear``.
- road: wet (``road == "wet"`` or rain): darker asphalt and planar mirror reflections of the scene above the road
  (forward-splatted through the fitted road plane), weighted by Fresnel (Schlick) and a seeded puddle pattern.
- sensor: slight vignetting and signal-dependent noise, seeded per frame.

Lit windows follow the windows painted on the facades (detected on the clip's static background) and fall back to a
procedural facade grid on bare walls. Per-clip work (background, windows, static lamps' light, sky) is done once.

3D quantities need the focal length: ``fov`` (horizontal, degrees) of the camera that made the frames. The road
plane (camera height and the up direction in camera coordinates) is fitted to the road pixels' 3D points, so a
pitched camera is handled. Every random choice is a pure function of ``look.seed`` (and the frame index), so the
same Look on the same frames gives identical bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from sdg.augment.base import Look, stable_seed
from sdg.geometry import SKY_DEPTH

WEATHERS = ("clear", "fog", "rain", "snow")
LIGHTINGS = ("day", "night", "dusk")
ROADS = ("dry", "wet")

ROAD_TAGS = (1, 24)  # road, road line
_ROAD_LUT = np.zeros(256, dtype=bool)
_ROAD_LUT[list(ROAD_TAGS)] = True
SKY_TAG = 11
BUILDING_TAG = 3
DUSK_SHADOW_TINT = (0.62, 0.66, 0.9)
DUSK_HAZE_TINT = (1.0, 0.9, 0.84)
KOSCHMIEDER_CONTRAST = 3.912  # -ln(0.02): visibility is where contrast falls to 2 %

# Lamp lighting: irradiance added at a point at distance d from a lamp row of intensity I is
# gain * S * I / (d^2 + EPS) (linear units; the pixel's day colour is its albedo).
S_EMIT = 6.0  # emitters (street lamps, vehicle lamps): luminaires lighting downwards (cos^2 of the nadir angle)
S_BEAM = 3.5  # beam spots (negative intensity rows): isotropic, falloff s / (d^2 + eps)^1.5
LIGHT_EPS = 1.0  # m^2
E_MIN = 0.006  # irradiance below which a lamp's contribution is ignored (window culling)

# sRGB <-> linear tables
_DECODE = np.where(np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92,
                   ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4).astype(np.float32)
_ENC_LEVELS = 16384
_lv = np.arange(_ENC_LEVELS, dtype=np.float64) / (_ENC_LEVELS - 1)
_ENCODE_U8 = np.clip(np.rint(255.0 * np.where(_lv <= 0.0031308, _lv * 12.92, 1.055 * _lv ** (1 / 2.4) - 0.055)), 0,
                     255).astype(np.uint8)
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (…, 3) -> float32 linear 0..1 (exact sRGB transfer function)."""
    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim == 3 and rgb.dtype == np.uint8:
        return cv2.LUT(rgb, _DECODE)
    return _DECODE[rgb]


def _encode_index(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0) * np.float32(_ENC_LEVELS - 1) + np.float32(0.5)
    return x.astype(np.uint16)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """float linear (…) -> uint8 sRGB, through a 16384-level table (error < 0.5 code + table step)."""
    return _ENCODE_U8[_encode_index(lin)]


def luminance(lin: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB (…, 3) -> (…)."""
    return lin @ _LUMA


def koschmieder(lin: np.ndarray, ray_distance: np.ndarray, beta: float, airlight) -> np.ndarray:
    """Koschmieder's law on linear RGB (H, W, 3): ``I0 e^(-beta d) + A (1 - e^(-beta d))``. ``ray_distance`` (H, W)
    metres along the viewing ray (inf for the sky, which becomes pure airlight); beta in 1/m. Returns a new array."""
    t = np.exp(ray_distance.astype(np.float32) * np.float32(-beta))[..., None]
    a = np.asarray(airlight, dtype=np.float32)
    out = lin - a
    out *= t
    out += a
    return out


# ----------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class LookParams:
    """Every number a look uses, drawn from look.seed. Colours are linear RGB."""

    exposure: float  # overall gain after lighting and weather grades
    tint: tuple[float, float, float]
    saturation: float  # 1 = unchanged
    contrast: float  # 1 = unchanged; < 1 pulls towards the frame's mean luminance
    visibility_m: float  # Koschmieder visibility; inf = no haze
    beta: float  # 3.912 / visibility_m (1/m)
    airlight: tuple[float, float, float]  # linear airlight of fog / haze, already lit by the lighting
    light_gain: float  # lamp strength (0 by day)
    window_fraction: float  # fraction of building windows lit
    wetness: float  # 0 = dry road; else 0..1
    rain_density: float
    rain_angle_deg: float  # streak angle from vertical
    snow_density: float
    snow_wind_px: float  # flake drift per frame, pixels at 960 px width
    sun_u: float  # dusk sun glow position, fraction of the width (may be off-screen)
    vignette: float  # relative darkening in the corners
    read_noise: float  # sensor noise std in sRGB 0..1 units
    shot_noise: float  # signal-dependent noise variance per sRGB unit


def look_params(look: Look) -> LookParams:
    """The parameters of a look, deterministic from (look fields, look.seed)."""
    if look.weather not in WEATHERS:
        raise ValueError(f"look.weather={look.weather!r}; expected one of {WEATHERS}")
    if look.lighting not in LIGHTINGS:
        raise ValueError(f"look.lighting={look.lighting!r}; expected one of {LIGHTINGS}")
    if look.road not in ROADS:
        raise ValueError(f"look.road={look.road!r}; expected one of {ROADS}")
    rng = np.random.default_rng(stable_seed(look.seed, "look-params"))
    u = rng.uniform(0.0, 1.0, size=16)  # fixed draw order: each field owns one uniform

    def lerp(i, a, b):
        return float(a + (b - a) * u[i])

    # lighting
    if look.lighting == "day":
        exposure, tint, sat, contrast, gain, windows = 1.0, (1.0, 1.0, 1.0), 1.0, 1.0, 0.0, 0.0
        light_scale = np.array([1.0, 1.0, 1.0])
    elif look.lighting == "dusk":
        exposure = lerp(0, 0.5, 0.7)
        tint, sat, contrast, gain, windows = (1.05, 0.74, 0.45), 1.0, 0.85, 0.35, lerp(1, 0.12, 0.25)
        light_scale = exposure * np.array(DUSK_HAZE_TINT)  # haze scatters the whole sky's light: barely warm
    else:  # night
        exposure = lerp(0, 0.014, 0.024)
        tint, sat, contrast, gain, windows = (0.55, 0.7, 1.0), 0.65, 1.0, 1.0, lerp(1, 0.22, 0.4)
        light_scale = exposure * np.array(tint) * 1.6  # city light scattered by the haze
    # weather
    visibility, airlight_day = np.inf, np.array([0.62, 0.64, 0.68])
    rain_density = snow_density = 0.0
    w_tint = np.ones(3)
    if look.weather == "fog":
        visibility = lerp(2, 160.0, 400.0)  # dense enough to hide the far scene, not the near traffic
        sat *= 0.85
    elif look.weather == "rain":
        visibility = lerp(2, 250.0, 600.0)
        exposure *= lerp(3, 0.55, 0.7)
        light_scale = light_scale * 0.62
        sat *= 0.75
        w_tint = np.array([0.95, 0.98, 1.04])
        airlight_day = np.array([0.42, 0.44, 0.47])
        rain_density = lerp(4, 0.6, 1.2)
    elif look.weather == "snow":
        visibility = lerp(2, 150.0, 400.0)
        exposure *= lerp(3, 0.8, 0.95)
        light_scale = light_scale * 0.85
        sat *= 0.9
        w_tint = np.array([0.93, 0.98, 1.08])
        airlight_day = np.array([0.6, 0.63, 0.68])
        snow_density = lerp(4, 0.6, 1.2)
    tint = tuple(float(x) for x in np.array(tint) * w_tint)
    airlight = airlight_day * light_scale * w_tint
    wet = look.road == "wet" or look.weather == "rain"
    night = look.lighting == "night"
    return LookParams(
        exposure=float(exposure), tint=tint, saturation=float(sat), contrast=float(contrast),
        visibility_m=float(visibility), beta=float(KOSCHMIEDER_CONTRAST / visibility),
        airlight=tuple(float(x) for x in airlight), light_gain=float(gain), window_fraction=float(windows),
        wetness=lerp(5, 0.65, 1.0) if wet else 0.0, rain_density=float(rain_density),
        rain_angle_deg=lerp(6, -14.0, 14.0), snow_density=float(snow_density), snow_wind_px=lerp(7, -1.5, 1.5),
        sun_u=lerp(8, -0.2, 1.2), vignette=lerp(9, 0.12, 0.25),
        read_noise=lerp(10, 0.006, 0.01) * (2.2 if night else 1.0), shot_noise=lerp(11, 0.00015, 0.0003),
    )


# ----------------------------------------------------------------------------------------------- geometry
@dataclass
class ClipGeometry:
    """Per-clip constants: pinhole rays and the fitted road plane, camera (OpenCV) coordinates."""

    width: int
    height: int
    focal: float  # pixels
    xn: np.ndarray  # (W,) (u + 0.5 - W/2) / f
    yn: np.ndarray  # (H,)
    ray_len: np.ndarray  # (H, W) metres along the ray per metre of planar depth
    up: np.ndarray  # (3,) unit up vector (road plane normal, towards the camera side)
    cam_height: float  # metres of the camera above the road plane
    elevation: np.ndarray  # (H, W) sin of the ray's angle above the road plane's horizon
    plane_fitted: bool

    def points(self, depth: np.ndarray, step: int = 1) -> np.ndarray:
        """(h, w, 3) float32 camera-frame points of a planar-depth image sampled every ``step`` pixels."""
        oy, ox = min(step // 2, depth.shape[0] - 1), min(step // 2, depth.shape[1] - 1)
        d = depth[oy::step, ox::step].astype(np.float32, copy=False)
        xs = ((np.arange(d.shape[1]) * step + ox + 0.5 - self.width / 2.0) / self.focal).astype(np.float32)
        ys = ((np.arange(d.shape[0]) * step + oy + 0.5 - self.height / 2.0) / self.focal).astype(np.float32)
        return np.stack([d * xs[None, :], d * ys[:, None], d], axis=-1)


def fit_road_plane(depth: np.ndarray, semantic: np.ndarray, focal: float, max_points: int = 4000
                   ) -> tuple[np.ndarray, float] | None:
    """Least-squares plane through the road pixels of one frame (two passes, the second without outliers > 0.15 m).
    Returns (unit up normal in camera coordinates, camera height in metres) or None with < 200 usable pixels."""
    h, w = depth.shape
    mask = np.isin(semantic, ROAD_TAGS) & np.isfinite(depth) & (depth > 0.1) & (depth < 0.5 * SKY_DEPTH)
    vs, us = np.nonzero(mask)
    if len(vs) < 200:
        return None
    if len(vs) > max_points:
        pick = np.linspace(0, len(vs) - 1, max_points).astype(np.int64)
        vs, us = vs[pick], us[pick]
    d = depth[vs, us].astype(np.float64)
    p = np.stack([(us + 0.5 - w / 2.0) / focal * d, (vs + 0.5 - h / 2.0) / focal * d, d], axis=1)
    for _ in range(2):
        c = p.mean(axis=0)
        _, _, vt = np.linalg.svd(p - c, full_matrices=False)
        n = vt[2]
        if np.dot(n, -c) < 0:  # point from the road towards the camera
            n = -n
        res = (p - c) @ n
        keep = np.abs(res) < 0.15
        if keep.sum() < 100:
            break
        p = p[keep]
    c = p.mean(axis=0)
    height = float(np.dot(n, -c))
    if height <= 0.05 or n[1] > -0.2:  # camera under the road or the "road" is a wall: not a usable plane
        return None
    return n / np.linalg.norm(n), height


def clip_geometry(depth: np.ndarray, semantic: np.ndarray, fov: float) -> ClipGeometry:
    """Rays for a (T,H,W) clip and its road plane (first frame with enough road; else level camera at 1.7 m)."""
    _, h, w = depth.shape
    f = w / (2.0 * np.tan(np.radians(fov) / 2.0))
    xn = (np.arange(w) + 0.5 - w / 2.0) / f
    yn = (np.arange(h) + 0.5 - h / 2.0) / f
    ray_len = np.sqrt(1.0 + xn[None, :] ** 2 + yn[:, None] ** 2).astype(np.float32)
    plane = None
    for t in range(depth.shape[0]):
        plane = fit_road_plane(depth[t], semantic[t], f)
        if plane is not None:
            break
    fitted = plane is not None
    up, cam_h = plane if fitted else (np.array([0.0, -1.0, 0.0]), 1.7)
    elevation = ((xn[None, :] * up[0] + yn[:, None] * up[1] + up[2]) / ray_len).astype(np.float32)
    return ClipGeometry(w, h, float(f), xn.astype(np.float32), yn.astype(np.float32), ray_len,
                        np.asarray(up, dtype=np.float64), float(cam_h), elevation, fitted)


def normals_from_points(p: np.ndarray) -> np.ndarray:
    """(h, w, 3) unit normals of a camera-frame point image, facing the camera. At each pixel the horizontal and
    vertical differences are taken towards the neighbour with the smaller depth jump, so normals do not smear
    across depth discontinuities."""

    if p.shape[0] < 2 or p.shape[1] < 2:  # no neighbours: face the camera
        out = np.zeros(p.shape, np.float32)
        out[..., 2] = -1.0
        return out

    def diff(axis: int) -> np.ndarray:
        fwd = np.zeros_like(p)
        bwd = np.zeros_like(p)
        if axis == 1:
            fwd[:, :-1] = p[:, 1:] - p[:, :-1]
            fwd[:, -1] = fwd[:, -2]
            bwd[:, 1:] = fwd[:, :-1]
            bwd[:, 0] = fwd[:, 0]
        else:
            fwd[:-1] = p[1:] - p[:-1]
            fwd[-1] = fwd[-2]
            bwd[1:] = fwd[:-1]
            bwd[0] = fwd[0]
        return np.where((np.abs(fwd[..., 2]) <= np.abs(bwd[..., 2]))[..., None], fwd, bwd)

    du, dv = diff(1), diff(0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = n / np.maximum(norm, 1e-9)
    facing = np.sum(n * p, axis=-1, keepdims=True) > 0
    return np.where(facing, -n, n).astype(np.float32)


# ----------------------------------------------------------------------------------------------- helpers
def _hash01(*keys: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic uniform [0, 1) from integer arrays (splitmix64-style mixing)."""
    with np.errstate(over="ignore"):
        h = np.full(np.shape(keys[0]), np.uint64(seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for k in keys:
            h = h ^ (np.asarray(k).astype(np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
                     + (h << np.uint64(6)) + (h >> np.uint64(2)))
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _smooth_noise(shape: tuple[int, int], cells: int, seed: int) -> np.ndarray:
    """Low-frequency value noise in [0, 1], (H, W) float32, about ``cells`` blobs across the width."""
    h, w = shape
    gw = max(cells, 2)
    gh = max(int(round(cells * h / w)), 2)
    g = np.random.default_rng(seed).random((gh + 1, gw + 1)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)


def _saturate(lin: np.ndarray, sat: float) -> np.ndarray:
    if sat == 1.0:
        return lin
    y = luminance(lin)[..., None]
    return y + (lin - y) * np.float32(sat)


def _radial_sprite(lin: np.ndarray, u: float, v: float, color: np.ndarray, core_r: float, core_amp: float,
                   halo_amp: float, halo_r: float | None = None, max_radius: float = 300.0) -> None:
    """Add a glare sprite centred at continuous (u, v), in place: a Gaussian core of sigma ``core_r`` px and amplitude
    ``core_amp`` plus a power-law halo ``halo_amp / (1 + r^2 / halo_r^2)^1.5`` (halo_r default 4 core_r). The
    sprite is cut where both terms fall below 0.003 (linear), at most ``max_radius`` px."""
    halo_r = 4.0 * core_r if halo_r is None else halo_r
    floor = 0.003
    r_core = core_r * np.sqrt(2.0 * np.log(core_amp / floor)) if core_amp > floor else 0.0
    q = (halo_amp / floor) ** (2.0 / 3.0)
    r_halo = halo_r * np.sqrt(q - 1.0) if q > 1.0 else 0.0
    radius = min(max(r_core, r_halo, 1.0), max_radius)
    h, w = lin.shape[:2]
    x0, x1 = int(max(0, np.floor(u - radius))), int(min(w, np.ceil(u + radius)))
    y0, y1 = int(max(0, np.floor(v - radius))), int(min(h, np.ceil(v + radius)))
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - u)
    ys = np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - v)
    r2 = xs[None, :] ** 2 + ys[:, None] ** 2
    prof = np.zeros_like(r2)
    if core_amp > 0:
        prof += np.float32(core_amp) * np.exp(r2 * np.float32(-0.5 / (core_r * core_r)))
    if halo_amp > 0:
        t = np.float32(1.0) + r2 * np.float32(1.0 / (halo_r * halo_r))
        prof += np.float32(halo_amp) / (t * np.sqrt(t))
    lin[y0:y1, x0:x1] += prof[..., None] * color.astype(np.float32)


# ----------------------------------------------------------------------------------------------- renderer
def background_frame(depth: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """The static scenery of a static-camera clip: per pixel, the frame where the depth is largest (moving things
    are in front of the background). Returns [depth_bg, *arrays_bg], each one frame."""
    idx = np.argmax(np.nan_to_num(depth, nan=SKY_DEPTH, posinf=SKY_DEPTH), axis=0)
    out = [np.take_along_axis(depth, idx[None], axis=0)[0]]
    for a in arrays:
        ix = idx[None].reshape((1,) + idx.shape + (1,) * (a.ndim - 3))
        out.append(np.take_along_axis(a, ix, axis=0)[0])
    return out


def detect_windows(lin: np.ndarray, depth: np.ndarray, sem: np.ndarray, focal: float) -> np.ndarray:
    """Window rectangles already painted on building facades (renderer textures, CARLA materials): building pixels
    whose colour departs (any channel) by > 20 % + 5 codes from the facade's local median (a median filter over
    building pixels only: every other pixel is replaced by a 0/255 checkerboard, which leaves the median of the
    building pixels in place),
    grouped into 4-connected components that are compact (>= 55 % of their box) and window-sized (0.4..4.5 m
    each way at their depth). Returns an int32 label image, 0 = not a window, 1..N = window."""
    b = sem == BUILDING_TAG
    h, w = sem.shape
    labels_out = np.zeros((h, w), np.int32)
    if b.sum() < 200:
        return labels_out
    srgb = np.clip(linear_to_srgb(lin), 1, 254)
    checker = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2 * 255).astype(np.uint8)
    k = max(15, int(round(61 * w / 960.0))) | 1
    diff = np.zeros((h, w), np.float32)
    for c in range(3):
        ch = np.where(b, srgb[..., c], checker).astype(np.uint8)
        ref = cv2.medianBlur(ch, k).astype(np.float32)
        diff = np.maximum(diff, np.abs(srgb[..., c].astype(np.float32) - ref) / (0.2 * ref + 5.0))
    cand = b & (diff > 1.0)
    cand = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, labels, stats, cent = cv2.connectedComponentsWithStats(cand, connectivity=4)
    if n <= 1:
        return labels_out
    bw, bh, area = stats[:, 2].astype(np.float64), stats[:, 3].astype(np.float64), stats[:, 4].astype(np.float64)
    cu = np.clip(cent[:, 0].astype(np.int64), 0, w - 1)
    cv = np.clip(cent[:, 1].astype(np.int64), 0, h - 1)
    d = depth[cv, cu].astype(np.float64)
    wm, hm = bw * d / focal, bh * d / focal
    ok = (area >= 6) & (area >= 0.55 * bw * bh) & (wm > 0.4) & (wm < 4.5) & (hm > 0.4) & (hm < 4.5)
    ok[0] = False
    remap = np.zeros(n, np.int32)
    remap[ok] = np.arange(1, int(ok.sum()) + 1, dtype=np.int32)
    return remap[labels]


# Snow: share of an up-facing surface covered, and a typical albedo (linear) to recover the shading, per tag.
_SNOW_AMOUNT = np.full(256, 0.85, np.float32)
_SNOW_ALBEDO = np.full(256, 0.2, np.float32)
for _tag, _amount, _albedo in ((1, 0.72, 0.1), (24, 0.72, 0.35), (2, 0.95, 0.22), (10, 1.0, 0.12), (25, 1.0, 0.15),
                               (9, 0.9, 0.08), (3, 0.95, 0.2), (SKY_TAG, 0.0, 1.0)):
    _SNOW_AMOUNT[_tag], _SNOW_ALBEDO[_tag] = _amount, _albedo
_SNOW_AMOUNT[[12, 13]] = 0.0  # people: no snow caps
_SNOW_AMOUNT[14:20] = 0.3  # vehicles in traffic: a dusting on roofs and bonnets, their colour stays readable

GROUND_TAGS = (1, 2, 10, 24, 25)  # road, sidewalk, terrain, road line, ground: flat, lit alike without the sun


def ground_deshadow_gain(lin: np.ndarray, sem: np.ndarray) -> np.ndarray:
    """(H, W) float32 gain >= 1 that lifts sun shadows out of the flat ground classes: within each class the
    shading is the class-only median luminance (5 x 5, edge-preserving, texture-free) over the class's sunlit
    level (its 90th percentile); gain = 1 / shading, at most 6. 1 elsewhere. For overcast and night looks."""
    h, w = sem.shape
    gain = np.ones((h, w), np.float32)
    y = linear_to_srgb(luminance(lin))
    checker = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2 * 255).astype(np.uint8)
    for tag in GROUND_TAGS:
        m = sem == tag
        if m.sum() < 50:
            continue
        med = cv2.medianBlur(np.where(m, y, checker).astype(np.uint8), 5)
        ylin = _DECODE[med[m]]
        sunlit = float(np.percentile(ylin, 90.0))
        if sunlit <= 1e-4:
            continue
        gain[m] = 1.0 / np.clip(ylin / sunlit, 1.0 / 6.0, 1.0)
    return gain


def facade_grid(depth: np.ndarray, sem: np.ndarray, geo: "ClipGeometry") -> np.ndarray:
    """A procedural window grid for bare facades: 3.2 m x 3.4 m cells in facade coordinates (horizontal tangent from
    the depth normal, height above the road plane), window in the middle of each cell, none below 3 m.
    Returns an int64 key image, -1 = not a window, else a cell key stable for the clip."""
    h, w = sem.shape
    out = np.full((h, w), -1, np.int64)
    bv, bu = np.nonzero(sem == BUILDING_TAG)
    if bv.size == 0:
        return out
    d = depth[bv, bu].astype(np.float32)
    pts = np.stack([geo.xn[bu] * d, geo.yn[bv] * d, d], axis=1)
    nrm = normals_from_points(geo.points(depth, 2))
    n = nrm[np.minimum(bv // 2, nrm.shape[0] - 1), np.minimum(bu // 2, nrm.shape[1] - 1)]
    up = geo.up.astype(np.float32)
    vertical = np.abs(n @ up) < 0.35
    tang = np.cross(up[None, :], n)
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-6)
    tang = np.where(tang[:, :1] < 0, -tang, tang)
    hcoord = np.sum(pts * tang, axis=1)
    height = pts @ up + geo.cam_height
    offset = np.round(np.sum(pts * n, axis=1) / 2.0)
    azim = np.round(np.degrees(np.arctan2(n[:, 0], n[:, 2])) / 20.0)
    ix, iy = np.floor(hcoord / 3.2), np.floor(height / 3.4)
    fx, fy = hcoord / 3.2 - ix, height / 3.4 - iy
    inside = (fx > 0.22) & (fx < 0.78) & (fy > 0.28) & (fy < 0.8) & vertical & (height > 3.0)
    key = (_hash01(ix, iy, azim, offset, seed=1) * (1 << 52)).astype(np.int64)
    out[bv[inside], bu[inside]] = key[inside]
    return out


class LookRenderer:
    """Renders one Look onto one clip. Construct once per (clip, look); call ``frame(t)`` for each frame."""

    def __init__(self, rgb: np.ndarray, depth: np.ndarray, semantic: np.ndarray, look: Look,
                 lights: Sequence[np.ndarray] | None = None, fov: float = 90.0, sensor: bool = True):
        self.rgb, self.depth, self.semantic = rgb, depth, semantic
        self.look = look
        self.p = look_params(look)
        self.lights = [np.asarray(x, np.float32).reshape(-1, 7) for x in lights] if lights else []
        self.sensor = sensor
        self.t_count, self.h, self.w = depth.shape
        self.geo = clip_geometry(depth, semantic, fov)
        self.scale = self.w / 960.0  # sizes below are tuned at 960 px width
        hh, ww = self.h, self.w
        # per-clip maps
        yy = (np.arange(hh, dtype=np.float32) + 0.5 - hh / 2.0) / (hh / 2.0)
        xx = (np.arange(ww, dtype=np.float32) + 0.5 - ww / 2.0) / (ww / 2.0)
        r2 = (xx[None, :] ** 2 * (ww / np.hypot(ww, hh)) ** 2 + yy[:, None] ** 2 * (hh / np.hypot(ww, hh)) ** 2)
        self.vignette = (1.0 - self.p.vignette * r2)[..., None].astype(np.float32)
        self.fresnel = (0.02 + 0.98 * (1.0 - np.abs(self.geo.elevation)) ** 5).astype(np.float32)
        self._puddles = self._snow_patch = self._sky_map = self._windows = self._static = None
        self._flakes = self._init_flakes() if self.p.snow_density > 0 else None
        self._deshadow = None
        overcast = look.weather in ("rain", "snow") or look.lighting == "night"
        needs_bg = overcast or self.p.window_fraction > 0 or (
            self.p.light_gain > 0 and any(len(x) for x in self.lights))
        self._bg = background_frame(depth, semantic, rgb) if needs_bg else None

    @property
    def puddles(self) -> np.ndarray:
        """(H, W) 0.45..1 seeded low-frequency wetness pattern (screen space: the camera is static)."""
        if self._puddles is None:
            n = _smooth_noise((self.h, self.w), 14, stable_seed(self.look.seed, "puddles"))
            self._puddles = (0.45 + 0.55 * n ** 0.8).astype(np.float32)
        return self._puddles

    @property
    def snow_patch(self) -> np.ndarray:
        """(H, W) 0.75..1 seeded patchiness of the snow cover."""
        if self._snow_patch is None:
            n = _smooth_noise((self.h, self.w), 24, stable_seed(self.look.seed, "snowpatch"))
            self._snow_patch = (0.75 + 0.25 * n).astype(np.float32)
        return self._snow_patch

    def deshadowed(self, day: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """The day frame with the static ground's sun shadows lifted (gain from the clip's background, applied
        where the frame still shows that background)."""
        if self._deshadow is None:
            bg_depth, bg_sem, bg_rgb = self._bg
            self._deshadow = (ground_deshadow_gain(srgb_to_linear(bg_rgb), bg_sem),
                              np.clip(np.nan_to_num(bg_depth.astype(np.float32), nan=SKY_DEPTH, posinf=SKY_DEPTH),
                                      0.05, SKY_DEPTH))
        gain, bgd = self._deshadow
        same = np.abs(depth - bgd) <= 0.02 * bgd + 0.05
        return day * np.where(same, gain, np.float32(1.0))[..., None]

    # ------------------------------------------------------------------ frame
    def frame(self, t: int) -> np.ndarray:
        """The augmented frame t, (H, W, 3) uint8."""
        rng = np.random.default_rng(stable_seed(self.look.seed, "frame", t))
        depth = self.depth[t].astype(np.float32)
        if not np.isfinite(depth.sum()):
            depth = np.nan_to_num(depth, nan=SKY_DEPTH, posinf=SKY_DEPTH)
        depth = np.clip(depth, 0.05, SKY_DEPTH)
        sem = self.semantic[t]
        sky = (sem == SKY_TAG) | (depth >= 0.99 * SKY_DEPTH)
        day = srgb_to_linear(self.rgb[t])
        if self.look.weather in ("rain", "snow") or self.look.lighting == "night":
            day = self.deshadowed(day, depth)  # overcast or night: no sun, so no sun shadows
        ctx = _Frame(t=t, rng=rng, depth=depth, sem=sem, sky=sky, day=day,
                     lights=self.lights[t] if t < len(self.lights) else np.zeros((0, 7), np.float32))
        lin = self._lighting(day, ctx)
        lin = self._weather(lin, ctx)
        lin = self._road(lin, ctx)
        return self._sensor(lin, ctx)

    # ------------------------------------------------------------------ lighting
    def _normals(self, ctx: "_Frame") -> np.ndarray:
        """Half-resolution camera-frame normals, cached per frame."""
        if ctx.normals is None:
            ctx.normals = normals_from_points(self.geo.points(ctx.depth, 2))
        return ctx.normals

    def _lighting(self, day: np.ndarray, ctx: "_Frame") -> np.ndarray:
        look, p = self.look, self.p
        if look.lighting == "day":
            return day
        if look.lighting == "night":
            # no sun: compress the day's sun/shadow contrast (an albedo-ish base), then a dim moonlit ambient
            lin = cv2.pow(day, 0.6) * (np.asarray(p.tint, dtype=np.float32) * np.float32(p.exposure))
        else:
            # golden hour split-toning: bright (sunlit) pixels take the warm low sun, dark (shadowed) ones the
            # bluish skylight
            w = np.clip((luminance(day) - 0.02) / 0.25, 0.0, 1.0)[..., None]
            warm = np.asarray(p.tint, dtype=np.float32)
            cool = np.array(DUSK_SHADOW_TINT, dtype=np.float32)
            lin = day * (cool + w * (warm - cool)) * np.float32(p.exposure)
        lin = _saturate(lin, p.saturation)
        if p.contrast != 1.0:
            m = float(luminance(lin[::4, ::4]).mean())
            lin = lin * np.float32(p.contrast) + np.float32((1.0 - p.contrast) * m)
        if ctx.sky.any():
            ys = luminance(day[ctx.sky])
            texture = np.clip(ys / max(float(ys.mean()), 1e-4), 0.3, 2.0)
            lin[ctx.sky] = self.sky_map()[ctx.sky] * (0.7 + 0.3 * texture)[:, None]
        if p.window_fraction > 0:
            self._add_windows(lin, ctx)
        if p.light_gain > 0 and len(ctx.lights):
            self._lamps(lin, day, ctx)
        return lin

    def sky_map(self) -> np.ndarray:
        """(H, W, 3) linear sky colour for dusk / night by elevation above the horizon (per clip)."""
        if self._sky_map is not None:
            return self._sky_map
        e = np.clip(self.geo.elevation, 0.0, 1.0)
        if self.look.lighting == "dusk":
            stops_e = np.array([0.0, 0.08, 0.25, 0.6, 1.0], dtype=np.float32)
            stops_c = np.array([[1.0, 0.42, 0.12], [0.85, 0.32, 0.16], [0.42, 0.22, 0.3], [0.1, 0.11, 0.28],
                                [0.05, 0.06, 0.18]], dtype=np.float32)
        else:  # night: faint warm light-pollution glow at the horizon fading to near black
            stops_e = np.array([0.0, 0.1, 0.35, 1.0], dtype=np.float32)
            stops_c = np.array([[0.016, 0.012, 0.011], [0.008, 0.008, 0.012], [0.003, 0.0035, 0.007],
                                [0.0015, 0.002, 0.0045]], dtype=np.float32)
        col = np.stack([np.interp(e, stops_e, stops_c[:, k]) for k in range(3)], axis=-1).astype(np.float32)
        if self.look.lighting == "dusk":
            su = self.p.sun_u * self.w
            du = ((np.arange(self.w, dtype=np.float32) + 0.5 - su) / (0.3 * self.w)) ** 2
            glow = np.exp(-du)[None, :] * np.exp(-e / 0.07)
            col += glow[..., None] * np.array([1.2, 0.55, 0.15], dtype=np.float32)
            col *= np.float32(self.p.exposure / 0.5)
        self._sky_map = col
        return col

    def window_lights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Lit windows of the clip, computed once on the static background: (rows, cols, background depth,
        linear emission (n, 3)). Windows come from the facades' own texture when at least 4 are found, else from
        a procedural facade grid; each is lit with probability ``window_fraction`` (seeded), warm or cool, with its
        own brightness and a soft edge."""
        if self._windows is not None:
            return self._windows
        bg_depth, bg_sem, bg_rgb = self._bg
        bg_depth = np.clip(np.nan_to_num(bg_depth.astype(np.float32), nan=SKY_DEPTH, posinf=SKY_DEPTH), 0.05,
                           SKY_DEPTH)
        labels = detect_windows(srgb_to_linear(bg_rgb), bg_depth, bg_sem, self.geo.focal)
        if labels.max() >= 4:
            keys = labels.astype(np.int64)
            keys[labels == 0] = -1
        else:
            keys = facade_grid(bg_depth, bg_sem, self.geo)
        mask = keys >= 0
        # soft edge: distance to the window border
        dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        vs, us = np.nonzero(mask)
        k = keys[vs, us]
        seed = stable_seed(self.look.seed, "windows")
        on = _hash01(k, seed=seed)
        lit = on < self.p.window_fraction
        vs, us, k, on = vs[lit], us[lit], k[lit], on[lit]
        shade = _hash01(k, seed=seed + 1)
        warm = np.array([1.0, 0.62, 0.28], dtype=np.float32)
        cool = np.array([0.62, 0.75, 1.0], dtype=np.float32)
        col = np.where((shade < 0.8)[:, None], warm, cool)
        amp = 0.06 + 0.16 * (on / max(self.p.window_fraction, 1e-6))
        soft = np.clip(dist[vs, us] / 1.5, 0.35, 1.0)
        emission = (amp * soft)[:, None] * col
        self._windows = (vs, us, bg_depth[vs, us], emission.astype(np.float32))
        return self._windows

    def _add_windows(self, lin: np.ndarray, ctx: "_Frame") -> None:
        vs, us, bgd, emission = self.window_lights()
        if vs.size == 0:
            return
        visible = np.abs(ctx.depth[vs, us] - bgd) <= 0.02 * bgd + 0.05  # not hidden by a passing object
        gain = np.float32(self.p.light_gain if self.look.lighting == "dusk" else 1.0)
        lin[vs[visible], us[visible]] += emission[visible] * gain

    # lamps ----------------------------------------------------------------
    _LAMP_STEP = 4  # irradiance is computed at 1/4 resolution and upsampled

    def _static_lamps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lamp rows present, identical, in every frame (street lamps of a static camera) and their irradiance on
        the static background at 1/4 resolution: (rows, background depth (h4, w4), irradiance (h4, w4, 3))."""
        if self._static is not None:
            return self._static
        sets = [set(map(tuple, np.round(rows.astype(np.float64), 4).tolist())) for rows in self.lights]
        common = set.intersection(*sets) if sets else set()
        rows = np.array(sorted(common), np.float32).reshape(-1, 7)
        bg_depth = np.clip(np.nan_to_num(self._bg[0].astype(np.float32), nan=SKY_DEPTH, posinf=SKY_DEPTH), 0.05,
                           SKY_DEPTH)
        pts = self.geo.points(bg_depth, self._LAMP_STEP)
        nrm = normals_from_points(pts)
        irr = np.zeros(pts.shape, np.float32)
        for row in rows:
            self._lamp_irradiance(row, pts, nrm, irr)
        self._static = (rows, pts[..., 2].copy(), irr)
        return self._static

    def _lamp_irradiance(self, row: np.ndarray, pts: np.ndarray, nrm: np.ndarray, irr: np.ndarray,
                         windowed: bool = True, step: int = _LAMP_STEP) -> None:
        """Add one lamp's irradiance to ``irr`` at the points ``pts`` ((h, w, 3) image at 1/4 resolution or (n, 1, 3)
        gathered points with windowed=False): gain * S * I / (d^2 + eps) * (0.25 + 0.75 cos_surface), emitters
        only into the hemisphere below them."""
        u, v, z, r, g, b, inten = (float(x) for x in row)
        if z <= 0.1 or inten == 0.0:
            return
        geo = self.geo
        emit = inten > 0
        s = (S_EMIT if emit else S_BEAM) * abs(inten) * self.p.light_gain
        lx, ly = (u - self.w / 2.0) / geo.focal * z, (v - self.h / 2.0) / geo.focal * z
        if windowed:
            reach = np.sqrt(s / E_MIN) if emit else (s / E_MIN) ** (1.0 / 3.0)
            rad = reach * geo.focal / step / max(z - reach, 0.5)
            h4, w4 = pts.shape[:2]
            x0, x1 = int(max(0, u / step - rad)), int(min(w4, u / step + rad + 1))
            y0, y1 = int(max(0, v / step - rad)), int(min(h4, v / step + rad + 1))
            if x0 >= x1 or y0 >= y1:
                return
            win = (slice(y0, y1), slice(x0, x1))
        else:
            win = (slice(None), slice(None))
        p, n = pts[win], nrm[win]
        dx, dy, dz = lx - p[..., 0], ly - p[..., 1], z - p[..., 2]
        d2 = dx * dx + dy * dy + dz * dz
        inv = 1.0 / np.sqrt(d2 + np.float32(1e-6))
        e = np.float32(s) / (d2 + np.float32(LIGHT_EPS))
        if not emit:  # beam spots: a tighter pool (inverse cube), so a chain of them reads as a beam
            e /= np.sqrt(d2 + np.float32(LIGHT_EPS))
        lam = (n[..., 0] * dx + n[..., 1] * dy + n[..., 2] * dz) * inv
        e *= np.float32(0.25) + np.float32(0.75) * np.clip(lam, 0.0, 1.0)
        if emit:  # luminaires throw their light downwards: intensity ~ cos^2 of the angle from the nadir
            up = geo.up
            down = np.clip((dx * np.float32(up[0]) + dy * np.float32(up[1]) + dz * np.float32(up[2])) * inv, 0, 1)
            e *= np.float32(0.03) + down * down
        irr[win] += e[..., None] * (np.array([r, g, b], np.float32) / np.float32(255.0))

    def _lamps(self, lin: np.ndarray, day: np.ndarray, ctx: "_Frame") -> None:
        """Lamp light on the scene (1/4-resolution irradiance, upsampled, times the pixel's albedo) and glare at the
        visible emitters. Static lamps' irradiance is cached on the background and recomputed only where the frame
        differs from it (moving objects)."""
        step = self._LAMP_STEP
        static_rows, bg_z, static_irr = self._static_lamps()
        pts = self.geo.points(ctx.depth, step)
        nrm = normals_from_points(pts)
        irr = static_irr.copy()
        changed = np.abs(pts[..., 2] - bg_z) > 0.02 * bg_z + 0.05
        if changed.any() and len(static_rows):
            cv_, cu_ = np.nonzero(changed)
            gp, gn = pts[cv_, cu_][:, None, :], nrm[cv_, cu_][:, None, :]
            gi = np.zeros(gp.shape, np.float32)
            for row in static_rows:
                self._lamp_irradiance(row, gp, gn, gi, windowed=False)
            irr[cv_, cu_] = gi[:, 0]
        static_set = set(map(tuple, static_rows.astype(np.float64).tolist()))
        rows = ctx.lights
        dynamic = [r for r in np.round(rows.astype(np.float64), 4).tolist() if tuple(r) not in static_set]
        if dynamic:  # moving lamps (vehicles): soft pools, computed at 1/8 resolution
            pts8 = self.geo.points(ctx.depth, 2 * step)
            nrm8 = normals_from_points(pts8)
            irr8 = np.zeros(pts8.shape, np.float32)
            for row in dynamic:
                self._lamp_irradiance(np.asarray(row, np.float32), pts8, nrm8, irr8, step=2 * step)
            irr += cv2.resize(irr8, (irr.shape[1], irr.shape[0]), interpolation=cv2.INTER_LINEAR)
        full = cv2.resize(irr, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        full[ctx.sky] = 0.0
        albedo = cv2.pow(day, 0.8) if self.look.lighting == "night" else day
        lin += albedo * full
        # glare at the visible emitters, after the lighting so the sources read as the brightest points
        fog = 1.0 - np.exp(-self.p.beta * 30.0)
        for row in rows:
            u, v, z, r, g, b, inten = (float(x) for x in row)
            if inten <= 0 or z <= 0.1 or not self._emitter_visible(u, v, z, ctx.depth):
                continue
            # the lamp's disc (~0.1 m radius) as a Gaussian core; below 0.7 px it keeps its energy (dimmer, not
            # bigger). The halo is lens glare: its size follows the image size, not the lamp's distance.
            size = 0.1 * self.geo.focal / z
            core = float(np.clip(size, 0.7, 10.0))
            amp = inten * self.p.light_gain
            core_amp = 4.0 * amp * min(1.0, (size / core) ** 2 * 4.0)
            halo_r = max(4.0 * core, 5.0 * self.scale)
            _radial_sprite(lin, u, v, np.array([r, g, b], np.float32) / 255.0, core, core_amp,
                           (0.04 + 0.25 * fog) * amp, halo_r=halo_r, max_radius=300.0 * self.scale)

    def _emitter_visible(self, u: float, v: float, z: float, depth: np.ndarray) -> bool:
        """A lamp shows when the surface seen at its pixel (median of 3 x 3) is not nearer than the lamp."""
        iu, iv = int(np.floor(u)), int(np.floor(v))
        if not (0 <= iu < self.w and 0 <= iv < self.h):
            return True  # off-screen: only its glare's tail shows
        patch = depth[max(0, iv - 1):iv + 2, max(0, iu - 1):iu + 2]
        return float(np.median(patch)) >= z - max(0.3, 0.02 * z)

    # ------------------------------------------------------------------ weather
    def _weather(self, lin: np.ndarray, ctx: "_Frame") -> np.ndarray:
        look, p = self.look, self.p
        if look.weather in ("rain", "snow"):
            if look.lighting == "day":  # the lighting stage left the frame untouched: grade here
                lin = _saturate(lin * np.asarray(p.tint, np.float32) * np.float32(p.exposure), p.saturation)
            if ctx.sky.any():  # overcast: a grey sky of the current brightness
                ys = luminance(lin[ctx.sky])
                grey = np.float32(1.6 if look.lighting == "day" else 1.0)
                tint = np.sqrt(np.asarray(p.tint, np.float32))
                lin[ctx.sky] = (0.8 * ys.mean() + 0.2 * ys)[:, None] * grey * tint
        elif look.weather == "fog" and look.lighting == "day" and p.saturation != 1.0:
            lin = _saturate(lin, p.saturation)
        if np.isfinite(p.visibility_m):
            dist = ctx.depth * self.geo.ray_len
            dist[ctx.sky] = np.inf
            lin = koschmieder(lin, dist, p.beta, p.airlight)
            if p.light_gain > 0 and len(ctx.lights):
                self._scatter_halos(lin, ctx)
        if look.weather == "snow":
            lin = self._snow_cover(lin, ctx)
        if p.rain_density > 0:
            self._rain_streaks(lin, ctx)
        if self._flakes is not None:
            self._snow_flakes(lin, ctx)
        return lin

    def _scatter_halos(self, lin: np.ndarray, ctx: "_Frame") -> None:
        """In-scattered lamp light: wide soft halos around the emitters, growing with the optical depth."""
        for row in ctx.lights:
            u, v, z, r, gg, b, inten = (float(x) for x in row)
            if inten <= 0 or z <= 0.1:
                continue
            scat = (1.0 - np.exp(-self.p.beta * z)) * np.exp(-self.p.beta * z * 0.5)
            amp = 0.1 * inten * self.p.light_gain * scat
            if amp < 1e-3:
                continue
            halo = float(np.clip(2.5 * self.geo.focal / z, 6.0, 220.0 * self.scale))
            _radial_sprite(lin, u, v, np.array([r, gg, b], np.float32) / 255.0, halo / 4.0, 0.0, amp, halo_r=halo,
                           max_radius=3.0 * halo)

    def _blend_sparse(self, lin: np.ndarray, alpha: np.ndarray, colour_small: np.ndarray) -> None:
        """In place: ``lin += alpha * (colour - lin)`` only where alpha > 0, colour looked up in a low-resolution
        (h, w, 3) image by nearest cell."""
        flat_a = alpha.reshape(-1)
        idx = np.flatnonzero(flat_a)
        if idx.size == 0:
            return
        a = flat_a[idx].astype(np.float32)
        if alpha.dtype == np.uint8:
            a *= np.float32(1.0 / 255.0)
        v, u = np.divmod(idx, self.w)
        sh, sw = colour_small.shape[:2]
        c = colour_small[(v * sh) // self.h, (u * sw) // self.w]
        flat = lin.reshape(-1, 3)
        px = flat[idx]
        px += a[:, None] * (c - px)
        flat[idx] = px

    def _small_bg(self, lin: np.ndarray) -> np.ndarray:
        """The frame at 1/16 resolution, blurred: the local light level that lights streaks and flakes."""
        small = cv2.resize(lin, (max(self.w // 16, 2), max(self.h // 16, 2)), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (0, 0), 1.5)

    def _rain_streaks(self, lin: np.ndarray, ctx: "_Frame") -> None:
        """Three depth layers of motion-blurred streaks (anti-aliased lines, fresh every frame), each hidden where
        the scene is nearer than the layer; streaks are lit by the local light level."""
        rng, p, sc = ctx.rng, self.p, self.scale
        colour = self._small_bg(lin) * np.float32(1.5) + np.float32(0.5) * np.asarray(p.airlight, np.float32)
        # (layer distance m, count at 960x540, length px, opacity, thickness px)
        layers = ((3.0, 120, 70.0, 0.16, 2), (8.0, 420, 34.0, 0.12, 1), (20.0, 1100, 14.0, 0.09, 1))
        ang = np.radians(p.rain_angle_deg)
        alpha = np.zeros((self.h, self.w), np.uint8)
        for dist, count, length, opacity, thick in layers:
            n = int(count * p.rain_density * (self.w * self.h) / (960 * 540))
            if n == 0:
                continue
            x = rng.uniform(-0.1 * self.w, 1.1 * self.w, n)
            y = rng.uniform(-0.1 * self.h, 1.1 * self.h, n)
            length_px = length * sc * rng.uniform(0.7, 1.3, n)
            a = ang + rng.normal(0.0, 0.03, n)
            dx, dy = np.sin(a) * length_px, np.cos(a) * length_px
            seg = np.stack([np.stack([x, y], 1), np.stack([x + dx, y + dy], 1)], 1)
            canvas = np.zeros((self.h, self.w), np.uint8)
            cv2.polylines(canvas, np.round(seg * 4).astype(np.int32), False, int(round(opacity * 255)),
                          thickness=max(1, int(round(thick * sc))), lineType=cv2.LINE_AA, shift=2)
            canvas[ctx.depth < dist] = 0
            np.maximum(alpha, canvas, out=alpha)
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0.6)
        self._blend_sparse(lin, alpha, colour)

    def _init_flakes(self) -> list[tuple[np.ndarray, ...]]:
        rng = np.random.default_rng(stable_seed(self.look.seed, "flakes"))
        area = self.w * self.h / (960 * 540)
        out = []
        # (layer distance m, count, radius px, fall px/frame, opacity)
        for dist, count, radius, fall, opacity in ((2.5, 70, 2.6, 7.0, 0.85), (6.0, 320, 1.5, 3.5, 0.7),
                                                   (15.0, 1100, 0.8, 1.6, 0.55)):
            n = int(count * self.p.snow_density * area)
            out.append((dist, radius * self.scale, fall * self.scale, opacity,
                        rng.uniform(0, self.w, n), rng.uniform(0, self.h, n), rng.uniform(0, 2 * np.pi, n),
                        rng.uniform(0.7, 1.3, n)))
        return out

    def _snow_flakes(self, lin: np.ndarray, ctx: "_Frame") -> None:
        """Drifting flakes in three depth layers; positions are continuous over time (seeded per clip), each layer
        hidden where the scene is nearer than it; flakes take the local light level."""
        t = ctx.t
        colour = self._small_bg(lin) * np.float32(0.8) + np.float32(0.9) * np.asarray(self.p.airlight, np.float32)
        alpha = np.zeros((self.h, self.w), np.float32)
        for dist, radius, fall, opacity, x0, y0, phase, speed in self._flakes:
            x = np.mod(x0 + t * self.p.snow_wind_px * self.scale * speed + 4.0 * self.scale * np.sin(
                phase + 0.15 * t), self.w)
            y = np.mod(y0 + t * fall * speed, self.h)
            canvas = np.zeros((self.h, self.w), np.float32)
            xi, yi = np.minimum(x.astype(np.int64), self.w - 1), np.minimum(y.astype(np.int64), self.h - 1)
            canvas[yi, xi] = 1.0
            sigma = max(radius * 0.6, 0.5)
            k = int(2 * np.ceil(3 * sigma) + 1)
            canvas = cv2.GaussianBlur(canvas, (k, k), sigma)
            canvas *= np.float32(2.0 * np.pi * sigma * sigma * 0.6 * opacity)
            canvas[ctx.depth < dist] = 0.0
            np.maximum(alpha, canvas, out=alpha)
        np.minimum(alpha, np.float32(1.0), out=alpha)
        self._blend_sparse(lin, alpha, colour)

    def _snow_cover(self, lin: np.ndarray, ctx: "_Frame") -> np.ndarray:
        """Snow on up-facing surfaces (smoothstep of normal . up from the depth), in a per-class amount (less on the
        road than on sidewalks and terrain) and a seeded patchiness. Its brightness keeps the frame's shading: the
        pixel's luminance over a typical albedo of its class, times snow's 0.85."""
        nrm = self._normals(ctx)
        facing = np.clip((nrm @ self.geo.up.astype(np.float32) - 0.55) / 0.3, 0.0, 1.0)
        facing = cv2.resize(facing, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        cover = facing * _SNOW_AMOUNT[ctx.sem]
        cover *= self.snow_patch
        ctx.snow = cover
        flat_c = cover.reshape(-1)
        idx = np.flatnonzero(flat_c > 0.01)
        if idx.size == 0:
            return lin
        flat = lin.reshape(-1, 3)
        px = flat[idx]
        y = px @ _LUMA
        cap = 1.2 * max(float(np.max(self.p.airlight)), 0.05) + 0.3
        snow_lum = np.clip(np.float32(0.85) * y / _SNOW_ALBEDO[ctx.sem.reshape(-1)[idx]], 0.0, cap)
        snow = snow_lum[:, None] * np.array([0.96, 0.98, 1.04], np.float32)
        px += flat_c[idx][:, None] * (snow - px)
        flat[idx] = px
        return lin

    # ------------------------------------------------------------------ road
    def _road(self, lin: np.ndarray, ctx: "_Frame") -> np.ndarray:
        """Wet road (tags 1, 24): albedo darkened by the water film (x (1 - 0.45 wet)) and mirror reflections
        weighted by Schlick's Fresnel term at the pixel's grazing angle, times the seeded puddle pattern; snow
        cover keeps its share dry."""
        p = self.p
        if p.wetness <= 0:
            return lin
        idx = np.flatnonzero(_ROAD_LUT[ctx.sem])
        if idx.size == 0:
            return lin
        wet = np.float32(p.wetness) * self.puddles.reshape(-1)[idx]
        if ctx.snow is not None:
            wet *= np.float32(1.0) - ctx.snow.reshape(-1)[idx]
        refl = self._reflection(lin, ctx).reshape(-1, 3)[idx]
        f = self.fresnel.reshape(-1)[idx] * wet
        flat = lin.reshape(-1, 3)
        px = flat[idx]
        px *= ((np.float32(1.0) - np.float32(0.45) * wet) * (np.float32(1.0) - f))[:, None]
        px += refl * (np.float32(0.9) * f)[:, None]
        flat[idx] = px
        return lin

    def _reflection(self, lin: np.ndarray, ctx: "_Frame") -> np.ndarray:
        """Planar mirror image of the scene above the road plane, forward-splatted at half resolution (nearest
        mirrored point wins), softened vertically; pixels no object reflects into show the environment colour."""
        g = self.geo
        step = 2
        pts = g.points(ctx.depth, step)
        h2, w2 = pts.shape[:2]
        small = cv2.resize(lin, (w2, h2), interpolation=cv2.INTER_AREA)
        sem2 = ctx.sem[step // 2::step, step // 2::step][:h2, :w2]
        sky2 = ctx.sky[step // 2::step, step // 2::step][:h2, :w2]
        up = g.up.astype(np.float32)
        height = pts @ up + np.float32(g.cam_height)
        road2 = np.isin(sem2, ROAD_TAGS)
        src = (~road2) & (~sky2) & (height > 0.05)
        sv, su = np.nonzero(src)
        env = small[sky2].mean(axis=0) if sky2.any() else np.asarray(self.p.airlight, np.float32) + 0.02
        refl = np.broadcast_to(env.astype(np.float32), small.shape).copy()
        if sv.size:
            ps = pts[sv, su]
            m = ps - (2.0 * height[sv, su])[:, None] * up[None, :]
            mz = m[:, 2]
            ok = mz > 0.2
            f2 = g.focal / step
            mu = np.where(ok, f2 * m[:, 0] / np.maximum(mz, 0.2) + w2 / 2.0, -1.0)
            mv = np.where(ok, f2 * m[:, 1] / np.maximum(mz, 0.2) + h2 / 2.0, -1.0)
            iu, iv = np.floor(mu).astype(np.int64), np.floor(mv).astype(np.int64)
            ok &= (iu >= 0) & (iu < w2) & (iv >= 0) & (iv < h2)
            iu, iv, mz, sv, su = iu[ok], iv[ok], mz[ok], sv[ok], su[ok]
            dst_depth = pts[iv, iu, 2]
            ok = road2[iv, iu] & (dst_depth < mz)
            iu, iv, mz, sv, su = iu[ok], iv[ok], mz[ok], sv[ok], su[ok]
            if iu.size:
                pix = iv * w2 + iu
                order = np.argsort(pix + mz / (float(mz.max()) + 1.0), kind="stable")
                first = np.ones(order.size, dtype=bool)
                first[1:] = pix[order][1:] != pix[order][:-1]
                sel = order[first]
                cov = np.zeros((h2, w2), np.float32)
                col = np.zeros((h2, w2, 3), np.float32)
                cov[iv[sel], iu[sel]] = 1.0
                col[iv[sel], iu[sel]] = small[sv[sel], su[sel]]
                k = (3, 15)  # taller than wide: rippled water smears reflections vertically
                cb = cv2.blur(cov, k)
                colb = cv2.blur(col, k)
                filled = colb / np.maximum(cb, 1e-6)[..., None]
                wgt = np.clip(cb * 3.0, 0.0, 1.0)[..., None]
                refl = refl * (1.0 - wgt) + filled * wgt
        refl = cv2.GaussianBlur(refl, (0, 0), sigmaX=0.8, sigmaY=1.6)
        return cv2.resize(refl, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    # ------------------------------------------------------------------ sensor
    def _sensor(self, lin: np.ndarray, ctx: "_Frame") -> np.ndarray:
        """Vignetting (1 - k r^2 in linear light), sRGB encoding, then Gaussian noise in code values with variance
        read^2 + shot * signal (luma from the green channel), plus weaker half-resolution chroma noise."""
        if not self.sensor:
            return linear_to_srgb(lin)
        lin *= self.vignette
        s8 = linear_to_srgb(lin)
        p = self.p
        g = s8[..., 1].astype(np.float32) * np.float32(1.0 / 255.0)
        sigma = np.sqrt(np.float32(p.read_noise ** 2) + np.float32(p.shot_noise) * g) * np.float32(255.0)
        luma_n, chroma_n = self._noise(ctx.rng)
        noise = chroma_n * np.float32(0.5 * p.read_noise * 255.0)
        noise += (luma_n * sigma)[..., None]
        return cv2.add(s8, np.rint(noise).astype(np.int16), dtype=cv2.CV_8U)

    _NOISE_BANK = 3
    _NOISE_PAD = 64

    def _noise(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Unit Gaussian luma noise (H, W) and half-resolution chroma noise (H, W, 3) for one frame: a window at a
        random offset into one of a few seeded per-clip fields (drawing fresh 1.5 M normals per frame would cost
        more than all the rest of a simple look)."""
        if getattr(self, "_bank", None) is None:
            brng = np.random.default_rng(stable_seed(self.look.seed, "noise-bank"))
            pad = self._NOISE_PAD
            luma = [brng.standard_normal((self.h + pad, self.w + pad), dtype=np.float32)
                    for _ in range(self._NOISE_BANK)]
            hc, wc = max(self.h // 2, 1) + pad // 2, max(self.w // 2, 1) + pad // 2
            chroma = [brng.standard_normal((hc, wc, 3), dtype=np.float32) for _ in range(self._NOISE_BANK)]
            self._bank = (luma, chroma)
        luma, chroma = self._bank
        k, dy, dx, cy, cx = (int(x) for x in rng.integers(0, [self._NOISE_BANK, self._NOISE_PAD, self._NOISE_PAD,
                                                              self._NOISE_PAD // 2, self._NOISE_PAD // 2]))
        lum = luma[k][dy:dy + self.h, dx:dx + self.w]
        if rng.integers(2):
            lum = lum[::-1]
        ch = chroma[(k + 1) % self._NOISE_BANK][cy:cy + max(self.h // 2, 1), cx:cx + max(self.w // 2, 1)]
        ch = cv2.resize(ch, (self.w, self.h), interpolation=cv2.INTER_NEAREST)
        return lum, ch


@dataclass
class _Frame:
    t: int
    rng: np.random.Generator
    depth: np.ndarray
    sem: np.ndarray
    sky: np.ndarray
    day: np.ndarray
    lights: np.ndarray
    normals: np.ndarray | None = None
    snow: np.ndarray | None = None


def render_look(rgb: np.ndarray, depth: np.ndarray, semantic: np.ndarray, look: Look,
                lights: Sequence[np.ndarray] | None = None, fov: float = 90.0, sensor: bool = True) -> np.ndarray:
    """Render ``look`` onto a clip. rgb (T,H,W,3) uint8, depth (T,H,W) float planar metres (sky 1000 m or inf),
    semantic (T,H,W) uint8 CARLA tags, lights per frame (N,7) rows (see sdg.augment.lights). ``sensor=False``
    leaves out noise and vignetting (exact, for tests). Returns (T,H,W,3) uint8."""
    rgb, depth, semantic = np.asarray(rgb), np.asarray(depth), np.asarray(semantic)
    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb: expected (T,H,W,3) uint8, got {rgb.shape} {rgb.dtype}")
    if depth.shape != rgb.shape[:3] or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth: expected (T,H,W)={rgb.shape[:3]} float metres, got {depth.shape} {depth.dtype}")
    if semantic.shape != rgb.shape[:3] or semantic.dtype != np.uint8:
        raise ValueError(f"semantic: expected (T,H,W)={rgb.shape[:3]} uint8 tags, got {semantic.shape} "
                         f"{semantic.dtype}")
    if lights is not None and len(lights) not in (0, rgb.shape[0]):
        raise ValueError(f"lights: expected one (N,7) array per frame ({rgb.shape[0]}), got {len(lights)}")
    for i, rows in enumerate(lights or []):
        rows = np.asarray(rows)
        if rows.size and (rows.ndim != 2 or rows.shape[1] != 7):
            raise ValueError(f"lights[{i}]: expected (N,7) rows u,v,z,r,g,b,intensity, got {np.shape(rows)}")
    if not 0.0 < fov < 180.0:
        raise ValueError(f"fov must be in (0, 180) degrees, got {fov}")
    if rgb.shape[0] == 0:
        return rgb.copy()
    renderer = LookRenderer(rgb, depth, semantic, look, lights=lights, fov=fov, sensor=sensor)
    out = np.empty_like(rgb)
    for t in range(rgb.shape[0]):
        out[t] = renderer.frame(t)
    return out
