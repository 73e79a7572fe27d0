"""An exact silhouette of an actor's 3D box, for box-shaped actors and as a renderer-free stand-in.

It has the signature of sdg.render.silhouette, so annotate_clip can use it where no renderer is available (e.g. a
simulator that only gives instance masks): a pixel belongs to the silhouette when its centre (u + 0.5, v + 0.5)
lies inside the image-plane outline of the box (clipped at the near plane), which is exactly what a ray caster
hitting a solid box through pixel centres produces.
"""
from __future__ import annotations

import numpy as np

from sdg.geometry import Camera
from sdg.groundtruth.projection import points_in_convex, project_box
from sdg.scene import Scene


def actor_box_outline(scene: Scene, camera: Camera, k: int, actor_id: int):
    """The ProjectedBox of actor `actor_id` at scene frame k."""
    actor = scene.actor(actor_id)
    if not 0 <= k < len(actor.poses):
        raise IndexError(f"actor {actor_id}: frame {k} outside its {len(actor.poses)} poses")
    center = actor.box_centers()[k]
    return project_box(camera, actor.size, center, actor.poses[k, 3:6])


def box_silhouette(scene: Scene, camera: Camera, k: int, actor_id: int, rect: tuple[int, int, int, int]) -> np.ndarray:
    """Bool mask (v1 - v0, u1 - u0) of the actor's box ALONE over the pixel rectangle rect = (u0, v0, u1, v1)
    (integers, may extend beyond the image): True where the pixel centre lies inside the box's outline."""
    u0, v0, u1, v1 = (int(x) for x in rect)
    if u1 < u0 or v1 < v0:
        raise ValueError(f"box_silhouette: empty or inverted rect {rect}; expected u0 <= u1 and v0 <= v1")
    outline = actor_box_outline(scene, camera, k, actor_id)
    mask = np.zeros((v1 - v0, u1 - u0), dtype=bool)
    b = outline.bounds()
    if b is None or mask.size == 0:
        return mask
    # restrict the test to the outline's own bounds inside the rect
    a0 = max(u0, int(np.floor(b[0])) - 1)
    a1 = min(u1, int(np.ceil(b[2])) + 1)
    c0 = max(v0, int(np.floor(b[1])) - 1)
    c1 = min(v1, int(np.ceil(b[3])) + 1)
    if a1 <= a0 or c1 <= c0:
        return mask
    u = np.arange(a0, a1, dtype=np.float64)[None, :] + 0.5
    v = np.arange(c0, c1, dtype=np.float64)[:, None] + 0.5
    mask[c0 - v0 : c1 - v0, a0 - u0 : a1 - u0] = points_in_convex(outline.hull, u, v)
    return mask
