"""The built-in looks: physically motivated CPU rendering of a Look (weather, lighting, road) onto simulator frames.

Everything is computed from the clean frame, its planar depth (metres) and its CARLA semantic tags, so the output
stays aligned pixel for pixel with the ground truth (no geometric warps). Work happens in linear light (sRGB
decoded); the stages run in the order lighting -> weather -> road -> sensor:

- lighting (``lighting``, ``lamps``, ``windows``): ``day`` (unchanged); ``dusk`` (golden-hour split toning: warm
  light on bright pixels, bluish skylight in dark ones, lowered contrast, a warm sky gradient by elevation above the
  horizon with a sun glow, lamps switching on); ``night`` (no sun: the static ground's sun shadows are lifted, the
  remaining day contrast compressed, ambient x ~0.02 with a blue tint, near-black sky with a horizon glow, lit
  windows on buildings, street lamps and vehicle lamps lighting their surroundings with inverse-square falloff
  (luminaires downwards), glare at the visible emitters, headlight beams on the road).
- weather (``weather``, ``particles``): ``fog`` (Koschmieder: ``I = I0 e^(-beta d) + A (1 - e^(-beta d))``, d the
  ray distance from the camera centre, beta = 3.912 / visibility, lamp halos in-scattered at night), ``rain``
  (overcast: sun shadows lifted, darker desaturated grade, grey sky, light haze, depth-layered motion-blurred streaks
  hidden behind nearer geometry), ``snow`` (overcast, cold grade, haze, snow cover on up-facing surfaces,
  depth-layered drifting flakes), ``clear``.
- road (``road``): wet (``road == "wet"`` or rain): darker asphalt and planar mirror reflections of the scene above
  the road (forward-splatted through the fitted road plane), weighted by Fresnel (Schlick) and a seeded puddle
  pattern.
- sensor (``sensor``): slight vignetting and signal-dependent noise, seeded per frame.

Lit windows follow the windows painted on the facades (detected on the clip's static background) and fall back to a
procedural facade grid on bare walls. Per-clip work (background, windows, static lamps' light and halos, sky, noise
fields, puddles) is done once (``renderer.LookRenderer``); per frame, each stage is one or two numba passes over the
pixels in float32 (``colour`` has the sRGB tables, ``resample`` the cv2-compatible upsampling done inside them).

3D quantities need the focal length: ``fov`` (horizontal, degrees) of the camera that made the frames. The road
plane (camera height and the up direction in camera coordinates) is fitted to the road pixels' 3D points, so a
pitched camera is handled (``geometry``). Every random choice is a pure function of ``look.seed`` (and the frame
index), so the same Look on the same frames gives identical bytes; the kernels are single-threaded and sum in a
fixed order, so the bytes do not depend on the process or the thread count.
"""
from sdg.augment.looks.colour import linear_to_srgb, luminance, srgb_to_linear
from sdg.augment.looks.geometry import (
    ClipGeometry,
    background_frame,
    clip_geometry,
    fit_road_plane,
    normals_from_points,
)
from sdg.augment.looks.lamps import E_MIN, LIGHT_EPS, S_BEAM, S_EMIT
from sdg.augment.looks.lighting import ground_deshadow_gain
from sdg.augment.looks.params import (
    BUILDING_TAG,
    DUSK_HAZE_TINT,
    DUSK_SHADOW_TINT,
    GROUND_TAGS,
    KOSCHMIEDER_CONTRAST,
    LIGHTINGS,
    ROAD_TAGS,
    ROADS,
    SKY_TAG,
    WEATHERS,
    LookParams,
    look_params,
)
from sdg.augment.looks.renderer import LookRenderer, render_look
from sdg.augment.looks.weather import koschmieder
from sdg.augment.looks.windows import detect_windows, facade_grid

__all__ = [
    "BUILDING_TAG", "DUSK_HAZE_TINT", "DUSK_SHADOW_TINT", "E_MIN", "GROUND_TAGS", "KOSCHMIEDER_CONTRAST", "LIGHTINGS",
    "LIGHT_EPS", "ROADS", "ROAD_TAGS", "SKY_TAG", "S_BEAM", "S_EMIT", "WEATHERS", "ClipGeometry", "LookParams",
    "LookRenderer", "background_frame", "clip_geometry", "detect_windows", "facade_grid", "fit_road_plane",
    "ground_deshadow_gain", "koschmieder", "linear_to_srgb", "look_params", "luminance", "normals_from_points",
    "render_look", "srgb_to_linear",
]
