"""A plain top-down drawing of a layout or scene (ground raster, props, lanes, actor footprints at one frame) with
cv2, for eyeballing generators and for reports. Image x = world x (east), image y = world y (south)."""
from __future__ import annotations

import cv2
import numpy as np

from sdg.scenario.polyline import rect_corners


def draw_topdown(ground, props=(), actors=(), k: int = 0, lanes=None, px_per_m: float = 5.0,
                 events=(), t: float | None = None, title: str = "") -> np.ndarray:
    """RGB uint8 image of the ground raster resampled to `px_per_m`, with props, optional lane centre lines
    (a dict of Lane), and actor footprints at frame k (id labels; traffic lights coloured by state)."""
    ny, nx = ground.tags.shape
    scale = px_per_m * ground.resolution
    W, H = int(round(nx * scale)), int(round(ny * scale))
    img = cv2.resize(ground.albedo, (W, H), interpolation=cv2.INTER_AREA).copy()

    def px(p) -> np.ndarray:
        p = np.asarray(p, float).reshape(-1, 2)
        return np.round(np.stack([(p[:, 0] - ground.x0) * px_per_m, (p[:, 1] - ground.y0) * px_per_m], 1)).astype(
            np.int32)

    for pr in sorted(props, key=lambda p: p.center[2] + p.size[2] / 2):
        col = tuple(int(c * 0.85) for c in pr.color)
        if pr.kind == "cylinder":
            c = px(pr.center[:2])[0]
            cv2.circle(img, tuple(int(v) for v in c), max(1, int(pr.size[0] / 2 * px_per_m)), col, -1, cv2.LINE_AA)
        else:
            q = rect_corners(pr.center[:2], np.radians(pr.yaw), pr.size[0], pr.size[1])
            cv2.fillPoly(img, [px(q)], col, cv2.LINE_AA)
            cv2.polylines(img, [px(q)], True, (40, 40, 40), 1, cv2.LINE_AA)
    if lanes is not None:
        for lane in lanes.values():
            col = {"entry": (90, 160, 255), "exit": (255, 140, 90), "junction": (250, 250, 120)}.get(lane.kind,
                                                                                                    (255, 255, 255))
            cv2.polylines(img, [px(lane.path.points)], False, col, 1, cv2.LINE_AA)
            e = lane.path.end
            h = float(lane.path.heading_at(lane.path.length))
            tip = e
            tail = e - 1.5 * np.array([np.cos(h), np.sin(h)])
            cv2.arrowedLine(img, tuple(int(v) for v in px(tail)[0]), tuple(int(v) for v in px(tip)[0]), col, 1,
                            cv2.LINE_AA, tipLength=0.5)
    for a in actors:
        x, y, _, _, _, yaw = a.poses[k]
        q = rect_corners((x, y), np.radians(yaw), a.size[0], a.size[1])
        if a.category == "traffic_light" and a.states:
            col = {"red": (230, 30, 30), "yellow": (240, 200, 20), "green": (30, 220, 60)}[a.states[k]]
        else:
            col = tuple(int(c) for c in a.color)
        cv2.fillPoly(img, [px(q)], col, cv2.LINE_AA)
        cv2.polylines(img, [px(q)], True, (0, 0, 0), 1, cv2.LINE_AA)
        if a.category not in ("traffic_light", "traffic_sign"):
            f = np.array([x, y]) + 0.5 * a.size[0] * np.array([np.cos(np.radians(yaw)), np.sin(np.radians(yaw))])
            cv2.line(img, tuple(int(v) for v in px((x, y))[0]), tuple(int(v) for v in px(f)[0]), (0, 0, 0), 1)
            cv2.putText(img, str(a.id), tuple(int(v) + 3 for v in px((x, y))[0]), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                        (255, 255, 255), 1, cv2.LINE_AA)
    y0 = 14
    if title:
        cv2.putText(img, title, (6, y0), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        y0 += 16
    for ev in events:
        active = t is not None and ev.t_start <= t <= ev.t_end
        txt = f"{ev.kind} {ev.actor_ids} {ev.t_start:.2f}-{ev.t_end:.2f}s" + (" *" if active else "")
        cv2.putText(img, txt, (6, y0), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0) if active else (255, 255, 255),
                    1, cv2.LINE_AA)
        y0 += 14
    return img


def draw_scene(scene, k: int, lanes=None, px_per_m: float = 5.0) -> np.ndarray:
    t = float(scene.times[k])
    return draw_topdown(scene.ground, scene.props, scene.actors, k, lanes, px_per_m, scene.events, t,
                        title=f"{scene.name} t={t:.2f}s frame {k}")


def save_png(path, rgb: np.ndarray) -> None:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
