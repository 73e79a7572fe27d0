"""Set-of-Mark overlays: numbered, coloured marks drawn over the objects of a (usually augmented) frame.

For every object with a mark > 0 and a tight visible box, `draw_marks` draws
  * a semi-transparent fill of the object's visible mask (from the instance image when given, else its polygons),
    except for traffic lights (`NO_FILL`): a tint would change the lit lamp's colour, which questions ask about,
  * a crisp outline of that mask (of a traffic light: around it, never over its own pixels), and
  * a tag: a filled rounded box in the mark's colour, bordered and lettered in black or white (whichever contrasts),
    carrying the mark number 1..N, never the raw simulator actor id.
Objects lost in augmentation (survival below SURVIVAL_LOST, when checked) are not marked.
Colours come from `mark_color(mark)`, a fixed function of the mark, so an actor keeps its colour across the frames of
a clip. The tag sits at the mask's most interior point (largest distance to the mask border) when it fits there,
otherwise above / below / beside the box, and is moved so that tags never overlap each other, nor a traffic light
whose lit lamp is seen (`state_visible`), while any free spot is left; tags always lie fully inside the image. Tag
height scales with the image (4 % of its shorter side, at least 14 px).

Images are (H, W, 3) uint8 in RGB order (colours are RGB triples); pixel (col u, row v) covers [u, u+1) x [v, v+1)
of the continuous convention of sdg.geometry. Everything is deterministic: same inputs, same pixels.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from sdg.som.records import box_of, get, mark_of
from sdg.som.survival import SURVIVAL_LOST

FILL_ALPHA = 0.35  # opacity of the mask fill
NO_FILL = frozenset({"traffic_light"})  # outlined and tagged only: their colour is the answer to a question
_FONT = cv2.FONT_HERSHEY_DUPLEX
_GOLDEN = 0.6180339887498949


def mark_color(mark: int) -> tuple[int, int, int]:
    """The RGB colour of a mark: hues step by the golden ratio (neighbouring marks far apart on the colour wheel),
    with saturation and value cycling so that marks whose hues come close still differ. Defined for mark >= 1."""
    if mark < 1:
        raise ValueError(f"mark_color: marks start at 1, got {mark}")
    i = mark - 1
    hue = (0.02 + i * _GOLDEN) % 1.0
    sat = (0.95, 0.70, 0.85)[i % 3]
    val = (1.0, 0.92, 0.78, 0.62)[(i // 3) % 4]
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _contrast_color(color: Sequence[int]) -> tuple[int, int, int]:
    """Black on light colours, white on dark ones (relative luminance, sRGB weights)."""
    r, g, b = color
    return (0, 0, 0) if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else (255, 255, 255)


@dataclass(frozen=True)
class TagStyle:
    """Tag geometry for one image size, all in pixels (font_scale is OpenCV's)."""

    height: int
    pad: int
    border: int
    font_scale: float
    thickness: int
    outline: int  # thickness of the mask outline

    @classmethod
    def for_image(cls, height: int, width: int) -> "TagStyle":
        short = min(int(height), int(width))
        tag_h = max(14, int(round(0.04 * short)))
        pad = max(2, tag_h // 6)
        border = max(1, tag_h // 16)
        thickness = max(1, int(round(tag_h / 16)))
        (_, h1), _ = cv2.getTextSize("8", _FONT, 1.0, thickness)
        font_scale = (tag_h - 2 * pad - 2 * border) / h1
        outline = max(1, int(round(short / 400)))
        return cls(tag_h, pad, border, font_scale, thickness, outline)

    def text_size(self, text: str) -> tuple[int, int]:
        (w, h), _ = cv2.getTextSize(text, _FONT, self.font_scale, self.thickness)
        return w, h

    def tag_size(self, text: str) -> tuple[int, int]:
        """(width, height) of the tag of `text`; at least square."""
        tw, _ = self.text_size(text)
        return max(self.height, tw + 2 * (self.pad + self.border)), self.height


def _rounded_mask(w: int, h: int, r: int) -> np.ndarray:
    """(h, w) uint8 mask of a filled rounded rectangle with corner radius r."""
    m = np.zeros((h, w), np.uint8)
    r = max(0, min(r, (min(w, h) - 1) // 2))
    cv2.rectangle(m, (r, 0), (w - 1 - r, h - 1), 1, -1)
    cv2.rectangle(m, (0, r), (w - 1, h - 1 - r), 1, -1)
    if r > 0:
        for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
            cv2.circle(m, (cx, cy), r, 1, -1)
    return m


def render_tag(text: str, color: Sequence[int], style: TagStyle) -> tuple[np.ndarray, np.ndarray]:
    """The tag of `text`: ((h, w, 3) uint8 RGB patch, (h, w) bool coverage). A rounded box in `color`, with a border
    and the text in the contrasting colour, the text centred."""
    w, h = style.tag_size(text)
    ink = _contrast_color(color)
    r = h // 4
    outer = _rounded_mask(w, h, r).astype(bool)
    b = style.border
    inner = np.zeros((h, w), bool)
    inner[b:h - b, b:w - b] = _rounded_mask(w - 2 * b, h - 2 * b, max(0, r - b)).astype(bool)
    patch = np.zeros((h, w, 3), np.uint8)
    patch[outer] = ink
    patch[inner] = color
    tw, th = style.text_size(text)
    org = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(patch, text, org, _FONT, style.font_scale, ink, style.thickness, cv2.LINE_AA)
    return patch, outer


@dataclass(frozen=True)
class MarkLabel:
    """Where one mark's tag goes. rect = (x0, y0, x1, y1) in pixel indices, end-exclusive, inside the image."""

    mark: int
    actor_id: int
    text: str
    rect: tuple[int, int, int, int]
    color: tuple[int, int, int]


@dataclass
class _Target:
    obj: Any
    mark: int
    actor_id: int
    box: tuple[float, float, float, float]
    x0: int  # crop origin of `mask` in the image
    y0: int
    mask: np.ndarray  # (h, w) bool over the crop (may be all False: outline the box only)

    @property
    def unfilled(self) -> bool:
        """A traffic light (`NO_FILL`): no tint, and its own pixels are never drawn over."""
        return str(get(self.obj, "category", "")) in NO_FILL


def _crop_of(box, height: int, width: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    x0 = min(max(int(math.floor(x1)), 0), width)
    y0 = min(max(int(math.floor(y1)), 0), height)
    xe = min(max(int(math.ceil(x2)), x0), width)
    ye = min(max(int(math.ceil(y2)), y0), height)
    return x0, y0, xe, ye


def _polygon_mask(polygons, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Rasterise polygons [x1, y1, x2, y2, ...] (continuous image coordinates) into a crop: a pixel is in when its
    centre is inside (OpenCV fill rule, 1/16 px precision)."""
    m = np.zeros((h, w), np.uint8)
    pts = []
    for poly in polygons or []:
        a = np.asarray(poly, dtype=np.float64).reshape(-1, 2) if len(poly) >= 6 and len(poly) % 2 == 0 else None
        if a is None or not np.all(np.isfinite(a)):
            continue
        a = (a - [x0 + 0.5, y0 + 0.5]) * 16.0
        pts.append(np.round(a).astype(np.int32))
    if pts and w > 0 and h > 0:
        cv2.fillPoly(m, pts, 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def _targets(image_shape, objects, instance, only_actor_ids, min_survival) -> list[_Target]:
    height, width = image_shape[:2]
    only = None if only_actor_ids is None else {int(a) for a in only_actor_ids}
    out: list[_Target] = []
    for obj in objects:
        mark = mark_of(obj)
        box = box_of(obj)
        aid = int(get(obj, "actor_id", 0))
        if mark <= 0 or box is None or (only is not None and aid not in only):
            continue
        survival = get(obj, "survival")
        if min_survival is not None and survival is not None and float(survival) < min_survival:
            continue  # lost in augmentation: a mark would point at nothing visible
        x0, y0, xe, ye = _crop_of(box, height, width)
        if xe <= x0 or ye <= y0:
            continue
        mask = np.zeros((ye - y0, xe - x0), bool)
        if instance is not None:
            mask = instance[y0:ye, x0:xe] == aid
        if not mask.any():
            mask = _polygon_mask(get(obj, "polygon", []), x0, y0, xe - x0, ye - y0)
        out.append(_Target(obj, mark, aid, box, x0, y0, mask))
    out.sort(key=lambda t: (t.mark, t.actor_id))
    return out


def _interior_point(t: _Target) -> tuple[float, float, float]:
    """(u, v, clearance): the mask pixel farthest from the mask border (the crop edge counts as border, so the
    point also keeps away from where the object leaves the image); among near-ties (within 1 px of the maximum,
    e.g. the ridge of an elongated box) the one nearest the mask's centroid. Clearance in pixels, 0 when empty."""
    if not t.mask.any():
        return 0.0, 0.0, 0.0
    padded = np.pad(t.mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)
    best = float(dist.max())
    ys, xs = np.nonzero(dist >= best - 1.0)
    my, mx = np.nonzero(padded)
    d2 = (xs - mx.mean()) ** 2 + (ys - my.mean()) ** 2
    k = int(np.argmin(d2))  # first minimum in row-major order: deterministic
    return t.x0 + xs[k] - 1 + 0.5, t.y0 + ys[k] - 1 + 0.5, float(dist[ys[k], xs[k]])


def _rect_at(cx: float, cy: float, w: int, h: int, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = int(round(cx - w / 2.0))
    y0 = int(round(cy - h / 2.0))
    x0 = max(0, min(x0, width - w))
    y0 = max(0, min(y0, height - h))
    return x0, y0, x0 + w, y0 + h


def _overlap(r, placed: Iterable[tuple[int, int, int, int]], margin: int = 1) -> int:
    total = 0
    for p in placed:
        dx = min(r[2] + margin, p[2]) - max(r[0] - margin, p[0])
        dy = min(r[3] + margin, p[3]) - max(r[1] - margin, p[1])
        if dx > 0 and dy > 0:
            total += dx * dy
    return total


def layout_marks(image_shape, objects, *, instance: np.ndarray | None = None,
                 only_actor_ids: Iterable[int] | None = None,
                 min_survival: float | None = SURVIVAL_LOST) -> list[MarkLabel]:
    """Where draw_marks puts each tag (same rules, same arguments), in mark order."""
    targets = _targets(image_shape, objects, instance, only_actor_ids, min_survival)
    return [lab for lab, _ in _layout(image_shape, targets)]


def _layout(image_shape, targets: list[_Target]) -> list[tuple[MarkLabel, _Target]]:
    height, width = image_shape[:2]
    style = TagStyle.for_image(height, width)
    # a traffic light whose lit lamp is seen is kept clear of tags (its colour is asked about) while any free spot is
    # left: its box counts as placed from the start
    placed: list[tuple[int, int, int, int]] = [
        (t.x0, t.y0, t.x0 + t.mask.shape[1], t.y0 + t.mask.shape[0]) for t in targets
        if t.unfilled and get(t.obj, "state_visible") is True]
    result = []
    gap = max(1, style.height // 6)
    for t in targets:
        text = str(t.mark)
        w, h = style.tag_size(text)
        bx1, by1, bx2, by2 = t.box
        bcx = (bx1 + bx2) / 2.0
        iu, iv, clearance = _interior_point(t)
        centres = []
        # inside when the tag fits the mask and hides at most 40 % of it (small objects get their tag outside)
        fits_inside = clearance >= 0.5 * h and w * h <= 0.4 * int(t.mask.sum())
        if fits_inside:
            centres.append((iu, iv))
        centres += [
            (bcx, by1 - gap - h / 2.0),  # above the box
            (bcx, by2 + gap + h / 2.0),  # below
            (bx1 + w / 2.0, by1 + h / 2.0),  # inside, top-left corner
            (bx1 - gap - w / 2.0, (by1 + by2) / 2.0),  # left
            (bx2 + gap + w / 2.0, (by1 + by2) / 2.0),  # right
        ]
        if clearance > 0 and not fits_inside:
            centres.append((iu, iv))
        rects = [_rect_at(cx, cy, w, h, width, height) for cx, cy in centres]
        chosen = next((r for r in rects if _overlap(r, placed) == 0), None)
        if chosen is None:  # spiral around the preferred spot, nearest rings first
            step = max(2, h // 2)
            cx0, cy0 = centres[0]
            spiral = []
            for ring in range(1, 9):
                for k in range(8 * ring):
                    a = 2.0 * math.pi * k / (8 * ring)
                    spiral.append(_rect_at(cx0 + ring * step * math.cos(a), cy0 + ring * step * math.sin(a),
                                           w, h, width, height))
            chosen = next((r for r in spiral if _overlap(r, placed) == 0), None)
            if chosen is None:  # crowded image: least overlap, earliest candidate on ties
                chosen = min(rects + spiral, key=lambda r: _overlap(r, placed))
        placed.append(chosen)
        result.append((MarkLabel(t.mark, t.actor_id, text, chosen, mark_color(t.mark)), t))
    return result


def draw_marks(image: np.ndarray, objects: Sequence[Any], *, instance: np.ndarray | None = None,
               only_actor_ids: Iterable[int] | None = None, alpha: float = FILL_ALPHA,
               min_survival: float | None = SURVIVAL_LOST) -> np.ndarray:
    """A new (H, W, 3) uint8 image: `image` with the Set-of-Mark overlay of `objects` (ObjectAnnotation or dicts
    with mark, actor_id, bbox_2d, polygon). `instance` (H, W) holds actor ids (0 = none) and gives exact masks;
    without it the objects' polygons are rasterised. `only_actor_ids` restricts the overlay to those actors (one
    event's overlay); everything else is left untouched. Objects with mark <= 0 or no visible box are skipped, and
    so are objects whose `survival` (sdg.som.survival) is below `min_survival` (None: mark them all)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"draw_marks: image must be (H, W, 3) uint8 RGB, got shape {img.shape} dtype {img.dtype}")
    height, width = img.shape[:2]
    if instance is not None:
        instance = np.asarray(instance)
        if instance.shape != (height, width):
            raise ValueError(f"draw_marks: instance has shape {instance.shape}, expected {(height, width)} "
                             "(the frame's instance image, same size as the image)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"draw_marks: alpha must be in [0, 1], got {alpha}")
    out = img.copy()
    layout = _layout(img.shape, _targets(img.shape, objects, instance, only_actor_ids, min_survival))
    style = TagStyle.for_image(height, width)
    # 1. fills, in mark order (later marks blend over earlier ones where masks touch)
    for lab, t in layout:
        if t.mask.any() and not t.unfilled:
            h, w = t.mask.shape
            region = out[t.y0:t.y0 + h, t.x0:t.x0 + w]
            px = region[t.mask].astype(np.float32)
            region[t.mask] = np.round(px * (1.0 - alpha) + np.float32(lab.color) * alpha).astype(np.uint8)
    # 2. outlines (crisp, no anti-aliasing), over all fills; an unfilled object's (a traffic light's) outline lies
    #    outside its mask, drawn thicker so as much shows, and no outline covers its own pixels (its lit lamp)
    for lab, t in layout:
        if t.mask.any():
            padded = np.pad(t.mask.astype(np.uint8), 1)
            contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, lab.color, 2 * style.outline + 1 if t.unfilled else style.outline,
                             cv2.LINE_8, offset=(t.x0 - 1, t.y0 - 1))
        else:  # nothing to fill: outline the box
            x0, y0, xe, ye = _crop_of(t.box, height, width)
            cv2.rectangle(out, (x0, y0), (xe - 1, ye - 1), lab.color, style.outline, cv2.LINE_8)
    for _, t in layout:
        if t.mask.any() and t.unfilled:
            h, w = t.mask.shape
            out[t.y0:t.y0 + h, t.x0:t.x0 + w][t.mask] = img[t.y0:t.y0 + h, t.x0:t.x0 + w][t.mask]
    # 3. tags on top of everything
    for lab, _ in layout:
        patch, cover = render_tag(lab.text, lab.color, style)
        x0, y0, x1, y1 = lab.rect
        ph, pw = min(y1, height) - y0, min(x1, width) - x0  # a tag larger than a tiny image is cut
        dst = out[y0:y0 + ph, x0:x0 + pw]
        dst[cover[:ph, :pw]] = patch[:ph, :pw][cover[:ph, :pw]]
    return out
