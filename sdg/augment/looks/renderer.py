"""Rendering one Look onto one clip: the per-clip state (geometry, background, caches of every stage) and the
per-frame order lighting -> weather -> particles -> road -> sensor."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sdg.augment.base import Look, stable_seed
from sdg.augment.looks import lamps, lighting, particles, road, weather, windows
from sdg.augment.looks.geometry import background_frame, clean_depth, clip_geometry, frame_depth_sky
from sdg.augment.looks.params import look_params
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
        _, self.h, self.w = depth.shape
        self.geo = clip_geometry(depth, semantic, fov)
        self.scale = self.w / 960.0  # sizes are tuned at 960 px width
        self.haze = bool(np.isfinite(p.visibility_m))
        self.deshadow = look.weather in ("rain", "snow") or look.lighting == "night"  # overcast or night: no sun
        self.sensor = Sensor(self.w, self.h, p, look.seed) if sensor else None
        self.lin = np.empty((self.h, self.w, 3), np.float32)
        self.cache: dict[str, object] = {}

    def _cached(self, key: str, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    # ------------------------------------------------------------------ per-clip state
    def background(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The static background: (cleaned depth, semantic, rgb), one frame each."""
        def make():
            bg_depth, bg_sem, bg_rgb = background_frame(self.depth, self.semantic, self.rgb)
            return clean_depth(bg_depth), bg_sem, bg_rgb
        return self._cached("background", make)

    def shadows(self) -> lighting.Deshadow:
        def make():
            bg_depth, bg_sem, bg_rgb = self.background()
            return lighting.Deshadow.of_background(bg_rgb, bg_sem, bg_depth, self.look.lighting == "night")
        return self._cached("deshadow", make)

    def sky_colour(self) -> np.ndarray:
        return self._cached("sky", lambda: lighting.sky_map(self.geo, self.look.lighting, self.p))

    def window_lights(self) -> windows.WindowLights:
        def make():
            bg_depth, bg_sem, bg_rgb = self.background()
            return windows.WindowLights.of_background(bg_rgb, bg_sem, bg_depth, self.geo, self.look.seed,
                                                      self.p.window_fraction)
        return self._cached("windows", make)

    def lamp_field(self) -> lamps.LampField:
        return self._cached("lamps", lambda: lamps.LampField.of_clip(self.lights, self.background()[0], self.geo,
                                                                      self.p.light_gain))

    def static_halos(self) -> lamps.StaticHalos:
        return self._cached("halos", lambda: lamps.StaticHalos.of_clip(self.lights, self.geo, self.p.light_gain,
                                                                        self.p.beta, self.scale))

    def snow(self) -> weather.SnowCover:
        return self._cached("snow", lambda: weather.SnowCover.of_clip(self.geo, self.look.seed))

    def flakes(self) -> particles.Flakes:
        return self._cached("flakes", lambda: particles.Flakes.of_clip(self.look.seed, self.p, self.w, self.h))

    def wet_road(self) -> road.WetRoad:
        return self._cached("road", lambda: road.WetRoad.of_clip(self.geo, self.look.seed, self.p.wetness))

    # ------------------------------------------------------------------ frame
    def frame(self, t: int, out: np.ndarray | None = None) -> np.ndarray:
        """The augmented frame t, (H, W, 3) uint8 (written into ``out`` when given)."""
        look, p = self.look, self.p
        rng = np.random.default_rng(stable_seed(look.seed, "frame", t))
        depth, sky = frame_depth_sky(self.depth[t], self.semantic[t])
        sem = self.semantic[t]
        rows = self.lights[t] if t < len(self.lights) else np.zeros((0, 7), np.float32)
        lamps_on = p.light_gain > 0 and len(rows) > 0
        # lighting: grade, sky and lamp light in one pass, then windows and glare
        field = self.lamp_field() if lamps_on else None
        lin = lighting.light_frame(self.rgb[t], depth, sky, look.lighting, p,
                                   self.shadows() if self.deshadow else None,
                                   self.sky_colour() if look.lighting != "day" else None,
                                   field.irradiance(depth, rows) if lamps_on else None,
                                   field.tables if lamps_on else None, self.lin)
        if p.window_fraction > 0:
            self.window_lights().add(lin, depth, p.light_gain if look.lighting == "dusk" else 1.0)
        if lamps_on:
            lamps.add_sprites(lin, lamps.glare_sprites(rows, depth, self.geo.focal, p.light_gain, p.beta,
                                                       self.scale))
        # weather: grade, haze, halos and snow cover in one pass, then falling rain or snow
        halo, moving_halos = None, np.zeros((0, 10))
        if self.haze and lamps_on:
            static = self.static_halos()
            halo = static.buf
            moving_halos = lamps.halo_sprites(static.moving(rows), self.geo.focal, p.light_gain, p.beta,
                                              self.scale)
            if look.weather == "snow" and len(moving_halos):  # halos come before the snow cover
                halo = halo.copy() if halo is not None else np.zeros_like(lin)
                lamps.add_sprites(halo, moving_halos)
                moving_halos = moving_halos[:0]
        cover = None
        if weather.weather_needs_pass(look.weather, look.lighting, p, halo is not None):
            cover = weather.weather_frame(lin, depth, sky, sem, self.geo.ray_len, look.weather, look.lighting, p,
                                          halo, self.snow() if look.weather == "snow" else None)
        lamps.add_sprites(lin, moving_halos)
        if p.rain_density > 0:
            particles.rain_streaks(lin, depth, p, rng, self.scale)
        if p.snow_density > 0:
            self.flakes().draw(lin, depth, t, p.airlight)
        # road
        if p.wetness > 0:
            self.wet_road().apply(lin, depth, sem, sky, p.airlight, cover)
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
