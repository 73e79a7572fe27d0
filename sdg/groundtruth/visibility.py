"""Visibility, occlusion and truncation of an object from its silhouette (the actor rendered ALONE).

Definitions, with S_all = silhouette pixels in total (inside and outside the image), S_in = silhouette pixels inside
the image, V = visible pixels (instance == actor id):

    truncation = 1 - S_in / S_all          fraction of the silhouette outside the image
    occlusion  = 1 - V / S_in              fraction of the in-image silhouette hidden by other things
    visibility = V / S_all                 fraction of the whole silhouette that is seen

Degenerate cases (documented choices): S_in = 0 (the object is entirely outside the image) gives occlusion 0 and
truncation 1: nothing in the image can be hidden; the object is out of view because of truncation. S_all = 0 (the
object covers no pixel centre at all) gives truncation 0, occlusion 0 and visibility 1 if any pixel is
visible (a renderer disagreeing with its own silhouette), else 0. All three are clipped to [0, 1] (a
silhouette sampled at a lower resolution, see below, can make V slightly exceed S_in).

Cost control. The silhouette is rendered only over the rectangle of the object's projected 3D box (plus a margin),
never over the whole image. That rectangle is first capped to a window extending `window_margin` image sizes beyond
every image border (objects reaching further out, i.e. very near ones, have their truncation under-estimated: it is
measured within that window). If the capped rectangle still has more than `max_pixels` pixels, the silhouette is
rendered with a camera downsampled by an integer factor s (same pose and fov, (W/s, H/s) pixels, so each coarse
pixel samples the centre of an s x s block of the full-resolution image) and its counts are multiplied by s².
s must divide both W and H (so the principal point stays at the centre); the smallest such factor that meets the
cap is used, the largest available one when none does, and no downsampling when W and H share no factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sdg.geometry import Camera
from sdg.scene import Scene

SilhouetteFn = Callable[[Scene, Camera, int, int, tuple[int, int, int, int]], np.ndarray]
# many silhouettes of one frame through one camera: (scene, camera, k, [(actor_id, rect), ...]) -> [mask, ...]
BatchSilhouetteFn = Callable[[Scene, Camera, int, list[tuple[int, tuple[int, int, int, int]]]], list[np.ndarray]]


@dataclass
class SilhouetteCounts:
    s_all: float  # silhouette pixels in total (full-resolution pixel units)
    s_in: float  # silhouette pixels inside the image
    scale: int  # downsampling factor used (1 = full resolution)
    rect: tuple[int, int, int, int]  # the (capped) full-resolution rectangle that was measured


def cap_rect(rect: tuple[int, int, int, int], width: int, height: int,
             window_margin: float = 1.0) -> tuple[int, int, int, int]:
    """Clip a pixel rectangle (u0, v0, u1, v1) to the window [-m*W, (1+m)*W] x [-m*H, (1+m)*H]."""
    mu, mv = int(math.ceil(window_margin * width)), int(math.ceil(window_margin * height))
    u0, v0, u1, v1 = rect
    u0, u1 = max(u0, -mu), min(u1, width + mu)
    v0, v1 = max(v0, -mv), min(v1, height + mv)
    return u0, v0, max(u1, u0), max(v1, v0)


def downsample_factor(area: int, width: int, height: int, max_pixels: int) -> int:
    """Smallest integer s dividing both width and height with area / s² <= max_pixels (1 if area fits)."""
    if area <= max_pixels:
        return 1
    g = math.gcd(int(width), int(height))
    divisors = [d for d in range(2, g + 1) if g % d == 0]
    for d in divisors:
        if area <= max_pixels * d * d:
            return d
    return divisors[-1] if divisors else 1


def scaled_camera(camera: Camera, s: int) -> Camera:
    """The same camera at 1/s resolution (s must divide width and height)."""
    if s == 1:
        return camera
    if camera.width % s or camera.height % s:
        raise ValueError(f"scaled_camera: factor {s} does not divide the image size {camera.width}x{camera.height}")
    return Camera(camera.name, camera.width // s, camera.height // s, camera.fov, camera.location, camera.rotation)


@dataclass
class SilhouetteRequest:
    """What to render for one silhouette: actor `actor_id` through `camera` (the full camera scaled down by `scale`)
    over the pixel rectangle `coarse` of that camera; `rect` is the capped full-resolution rectangle it covers."""

    actor_id: int
    rect: tuple[int, int, int, int]
    scale: int
    coarse: tuple[int, int, int, int]
    camera: Camera


def plan_silhouette(camera: Camera, actor_id: int, rect: tuple[int, int, int, int], *, max_pixels: int = 1 << 20,
                    window_margin: float = 1.0) -> SilhouetteRequest:
    """The capped (and possibly downsampled) rendering of a silhouette over `rect`; see the module docstring."""
    w, h = camera.width, camera.height
    u0, v0, u1, v1 = cap_rect(rect, w, h, window_margin)
    area = (u1 - u0) * (v1 - v0)
    s = downsample_factor(area, w, h, max_pixels) if area else 1
    r = (u0 // s, v0 // s, -((-u1) // s), -((-v1) // s))  # floor / ceil to the coarse grid
    return SilhouetteRequest(int(actor_id), (u0, v0, u1, v1), s, r, scaled_camera(camera, s))


def count_silhouette(request: SilhouetteRequest, mask: np.ndarray, k: int, fn_name: str = "silhouette_fn"
                     ) -> SilhouetteCounts:
    """S_all and S_in (full-resolution pixel units) of the mask rendered for `request` at scene frame k."""
    r, s = request.coarse, request.scale
    mask = np.asarray(mask)
    expected = (r[3] - r[1], r[2] - r[0])
    if mask.shape != expected:
        raise ValueError(
            f"silhouette function {fn_name} returned shape {mask.shape} for actor {request.actor_id} at frame {k} "
            f"over rect {r}; expected (rows, cols) = {expected}: it must cover exactly (u0, v0, u1, v1) -> "
            "(v1 - v0, u1 - u0)"
        )
    mask = mask.astype(bool, copy=False)
    # the part of the coarse rect inside the coarse image [0, W/s) x [0, H/s)
    cw, ch = request.camera.width, request.camera.height
    a0, a1 = min(max(0, -r[0]), expected[1]), min(max(0, cw - r[0]), expected[1])
    b0, b1 = min(max(0, -r[1]), expected[0]), min(max(0, ch - r[1]), expected[0])
    s_all = float(np.count_nonzero(mask)) * s * s
    s_in = float(np.count_nonzero(mask[b0:b1, a0:a1])) * s * s
    return SilhouetteCounts(s_all, s_in, s, request.rect)


def silhouette_counts(
    silhouette_fn: SilhouetteFn,
    scene: Scene,
    camera: Camera,
    k: int,
    actor_id: int,
    rect: tuple[int, int, int, int],
    *,
    max_pixels: int = 1 << 20,
    window_margin: float = 1.0,
) -> SilhouetteCounts:
    """Render the actor's silhouette over `rect` (capped and possibly downsampled, see the module docstring) and
    count its pixels in total and inside the image."""
    req = plan_silhouette(camera, actor_id, rect, max_pixels=max_pixels, window_margin=window_margin)
    u0, v0, u1, v1 = req.rect
    if (u1 - u0) * (v1 - v0) == 0:
        return SilhouetteCounts(0.0, 0.0, 1, req.rect)
    mask = silhouette_fn(scene, req.camera, k, actor_id, req.coarse)
    return count_silhouette(req, mask, k, getattr(silhouette_fn, "__qualname__", repr(silhouette_fn)))


def visibility_metrics(visible: float, s_all: float, s_in: float) -> tuple[float, float, float]:
    """(visibility, occlusion, truncation) from V, S_all, S_in as defined in the module docstring."""
    if s_all <= 0:
        return (1.0 if visible > 0 else 0.0), 0.0, 0.0
    truncation = 1.0 - s_in / s_all
    occlusion = 1.0 - visible / s_in if s_in > 0 else 0.0
    visibility = visible / s_all
    clip = lambda x: float(min(1.0, max(0.0, x)))  # noqa: E731
    return clip(visibility), clip(occlusion), clip(truncation)
