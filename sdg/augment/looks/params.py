"""The numbers of a Look: the weather / lighting / road names, the semantic tags the looks care about, and
``look_params`` (every parameter a look uses, drawn deterministically from ``look.seed``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdg.augment.base import Look, stable_seed

WEATHERS = ("clear", "fog", "rain", "snow")
LIGHTINGS = ("day", "night", "dusk")
ROADS = ("dry", "wet")

ROAD_TAGS = (1, 24)  # road, road line
ROAD_LUT = np.zeros(256, dtype=bool)
ROAD_LUT[list(ROAD_TAGS)] = True
SKY_TAG = 11
BUILDING_TAG = 3
GROUND_TAGS = (1, 2, 10, 24, 25)  # road, sidewalk, terrain, road line, ground: flat, lit alike without the sun
DUSK_SHADOW_TINT = (0.62, 0.66, 0.9)
DUSK_HAZE_TINT = (1.0, 0.9, 0.84)
KOSCHMIEDER_CONTRAST = 3.912  # -ln(0.02): visibility is where contrast falls to 2 %


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
