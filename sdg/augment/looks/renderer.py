"""Rendering one Look onto one clip: the per-clip state (geometry, background, caches of every stage) and the
per-frame order lighting -> weather -> particles -> road -> sensor."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sdg.augment.base import Look, stable_seed
from sdg.augment.looks import lamps, lighting, particles, road, weather
from sdg.augment.looks.geometry import background_frame, clean_depth, clip_geometry, frame_depth_sky
from sdg.augment.looks.params import look_params
from sdg.augment.looks.patterns import smooth_noise
from sdg.augment.looks.resample import linear_tables
from sdg.augment.looks.sensor import Sensor, encode_frame


class LookRenderer:
    """Renders one Look onto one clip. Construct once per (clip, look); call ``frame(t)`` for each frame.
    Everything that does not depend on the frame is computed once, on first use."""

    def __init__(self, rgb: np.ndarray, depth: np.ndarray, semantic: np.ndarray, look: Look,
                 lights: Sequence[np.ndarray] | None = None, fov: float = 90.0, sensor: bool = True):
        self.rgb, self.depth, self.semantic = rgb, depth, semantic
        self.look = look
        self.p = p = look_params(look)
        self.lights = [np.asarray(x, np.float32).reshape(-1, 7) for x in lights] if lights else []
        self.t_count, self.h, self.w = depth.shape
        self.geo = clip_geometry(depth, semantic, fov)
        self.scale = self.w / 960.0  # sizes are tuned at 960 px width
        self.night = look.lighting == "night"
        self.overcast = look.weather in ("rain", "snow")
        self.lamps_on = p.light_gain > 0 and any(len(x) for x in self.lights)
        self.haze = bool(np.isfinite(p.visibility_m))
        self.sensor = Sensor(self.w, self.h, p, look.seed) if sensor else None
        self._lin = np.empty((self.h, self.w, 3), np.float32)
        needs_bg = self.overcast or self.night or p.window_fraction > 0 or self.lamps_on
        self._bg = None
        if needs_bg:
            bg_depth, bg_sem, bg_rgb = background_frame(depth, semantic, rgb)
            self._bg = (clean_depth(bg_depth), bg_sem, bg_rgb)
        self._deshadow = self._sky = self._windows = self._lamp_field = self._lamp_tables = None
        self._puddles = self._fresnel = self._refl_tables = self._snow_patch = self._snow_tables = None
        self._static_halo = None
        self._flakes = particles.Flakes.of_clip(look.seed, p, self.w, self.h) if p.snow_density > 0 else None

    # ------------------------------------------------------------------ per-clip state
    @property
    def deshadow(self) -> lighting.Deshadow:
        if self._deshadow is None:
            bg_depth, bg_sem, bg_rgb = self._bg
            self._deshadow = lighting.Deshadow.of_background(bg_rgb, bg_sem, bg_depth, self.night)
        return self._deshadow

    @property
    def sky_colour(self) -> np.ndarray:
        if self._sky is None:
            self._sky = lighting.sky_map(self.geo, self.look.lighting, self.p)
        return self._sky

    @property
    def windows(self) -> lamps.WindowLights:
        if self._windows is None:
            bg_depth, bg_sem, bg_rgb = self._bg
            self._windows = lamps.WindowLights.of_background(bg_rgb, bg_sem, bg_depth, self.geo, self.look.seed,
                                                             self.p.window_fraction)
        return self._windows

    @property
    def lamp_field(self) -> lamps.LampField:
        if self._lamp_field is None:
            self._lamp_field = lamps.LampField.of_clip(self.lights, self._bg[0], self.geo, self.p.light_gain)
            self._lamp_tables = linear_tables(self._lamp_field.irr.shape[:2], (self.h, self.w))
        return self._lamp_field

    @property
    def puddles(self) -> np.ndarray:
        if self._puddles is None:
            self._puddles = road.puddles((self.h, self.w), stable_seed(self.look.seed, "puddles"))
            self._fresnel = road.fresnel(self.geo)
            self._refl_tables = road.reflection_tables(self.geo)
        return self._puddles

    @property
    def snow_patch(self) -> np.ndarray:
        """(H, W) 0.75..1 seeded patchiness of the snow cover."""
        if self._snow_patch is None:
            n = smooth_noise((self.h, self.w), 24, stable_seed(self.look.seed, "snowpatch"))
            self._snow_patch = (0.75 + 0.25 * n).astype(np.float32)
            _, _, ys, xs = self.geo.grid(2, (self.h, self.w))
            self._snow_tables = linear_tables((len(ys), len(xs)), (self.h, self.w))
        return self._snow_patch

    def static_halo(self) -> np.ndarray | None:
        """Halos of the lamps identical in every frame (street lamps), drawn once per clip; None without any."""
        if self._static_halo is None:
            rows = self._exact_static_rows()
            sprites = lamps.halo_sprites(rows, self.geo.focal, self.p.light_gain, self.p.beta, self.scale)
            buf = np.zeros((self.h, self.w, 3), np.float32)
            lamps.add_sprites(buf, sprites)
            self._static_halo = (buf if len(sprites) else None, {r.tobytes() for r in rows})
        return self._static_halo

    def _exact_static_rows(self) -> np.ndarray:
        """Lamp rows present bit for bit in every frame, in first-frame order."""
        if not self.lights:
            return np.zeros((0, 7), np.float32)
        common = set.intersection(*({r.tobytes() for r in rows} for rows in self.lights))
        return np.array([r for r in self.lights[0] if r.tobytes() in common], np.float32).reshape(-1, 7)

    # ------------------------------------------------------------------ frame
    def frame(self, t: int, out: np.ndarray | None = None) -> np.ndarray:
        """The augmented frame t, (H, W, 3) uint8 (written into ``out`` when given)."""
        look, p = self.look, self.p
        rng = np.random.default_rng(stable_seed(look.seed, "frame", t))
        depth, sky = frame_depth_sky(self.depth[t], self.semantic[t])
        sem = self.semantic[t]
        rows = self.lights[t] if t < len(self.lights) else np.zeros((0, 7), np.float32)
        lamps_now = p.light_gain > 0 and len(rows) > 0
        # lighting
        irr = self.lamp_field.irradiance(depth, rows) if lamps_now else None
        lin = lighting.light_frame(self.rgb[t], depth, sky, look.lighting, p,
                                   self.deshadow if (self.overcast or self.night) else None,
                                   self.sky_colour if look.lighting != "day" else None, irr, self._lamp_tables,
                                   self._lin)
        if p.window_fraction > 0:
            self.windows.add(lin, depth, p.light_gain if look.lighting == "dusk" else 1.0)
        if lamps_now:
            lamps.add_sprites(lin, lamps.glare_sprites(rows, depth, self.geo.focal, p.light_gain, p.beta,
                                                       self.scale))
        # weather
        halo, moving_halos = None, np.zeros((0, 10))
        if self.haze and lamps_now:
            halo, static_keys = self.static_halo()
            moving = np.array([r for r in rows if r.tobytes() not in static_keys], np.float32).reshape(-1, 7)
            moving_halos = lamps.halo_sprites(moving, self.geo.focal, p.light_gain, p.beta, self.scale)
            if look.weather == "snow" and len(moving_halos):  # halos come before the snow cover
                halo = halo.copy() if halo is not None else np.zeros_like(lin)
                lamps.add_sprites(halo, moving_halos)
                moving_halos = moving_halos[:0]
        cover = None
        if weather.weather_needs_pass(look.weather, look.lighting, p, halo is not None):
            facing = None
            if look.weather == "snow":
                patch = self.snow_patch
                facing = weather.snow_facing(self.geo.normals(depth, 2), self.geo.up)
                cover = np.empty((self.h, self.w), np.float32)
            else:
                patch = None
            weather.weather_frame(lin, depth, sky, sem, self.geo.ray_len, look.weather, look.lighting, p, halo,
                                  facing, self._snow_tables, patch, cover)
        lamps.add_sprites(lin, moving_halos)
        if p.rain_density > 0:
            particles.rain_streaks(lin, depth, p, rng, self.scale)
        if self._flakes is not None:
            self._flakes.draw(lin, depth, t, p.airlight)
        # road
        if p.wetness > 0:
            puddle = self.puddles
            refl = road.reflection(lin, depth, sem, sky, self.geo, p.airlight)
            road.wet_road(lin, sem, refl, self._refl_tables, p.wetness, puddle, self._fresnel, cover)
        # sensor
        if out is None:
            out = np.empty((self.h, self.w, 3), np.uint8)
        if self.sensor is None:
            return encode_frame(lin, out)
        return self.sensor.frame(lin, rng, out)


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
    rgb, semantic = np.ascontiguousarray(rgb), np.ascontiguousarray(semantic)
    renderer = LookRenderer(rgb, depth, semantic, look, lights=lights, fov=fov, sensor=sensor)
    out = np.empty_like(rgb)
    for t in range(rgb.shape[0]):
        renderer.frame(t, out[t])
    return out
