"""Does each marked object survive augmentation? A 0..1 score per object from the original (simulator) frame and the
augmented frame, both aligned to the same ground truth.

Two cues are measured in each frame, on the object's visible mask M (from the instance image) and a ring R around it
(M dilated by ~1/4 of the object's size, 2..24 px, minus M, minus other actors' pixels when enough remain):

* contrast  C = |mean RGB over M - mean RGB over R| / (L + L0): how much the object stands out from its surround,
  relative to the local mean luminance L of M and R (L0 = 16 grey levels keeps near-black regions from exploding).
  A gain (darker / brighter frame) leaves C unchanged; an additive veil (fog, glare) lowers it.
* structure: luminance gradients (Sobel) over M and a 1-pixel band outside it (so the silhouette edge counts), each
  divided by its frame's L + L0. The retained structure is S = sum |g_orig . g_aug| / sum |g_orig|^2: the part of
  the original gradient field still present, with the same orientation, in the augmented frame (1 when unchanged,
  t under a veil of transmission t, about 0 when the object is painted over, even if new texture is added).

Each cue's ratio (augmented / original) is capped at 1. The contrast cue also counts as kept when the augmented
contrast alone is plainly visible: its value is max(C_aug / C_orig, C_aug / C_VISIBLE), capped at 1, so a
high-contrast object that fades but still stands out clearly is not called lost. (No such absolute term is used
for structure, because added texture or noise would pass it.) The score is the two cues' mean, each weighted by how
strong it was in the original (C / (C + 0.1) and rms-gradient / (rms-gradient + 0.1)). An object with neither
cue in the original has nothing to lose and scores 1.0.

Recommended use: `survival < SURVIVAL_LOST` (0.3) = lost: drop its marks and questions for that variant; 0.3..0.6 =
degraded; above 0.6 = clearly visible. (Uniform fog of transmission t gives about t * (L + L0) / (L_fog + L0).)
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from sdg.som.records import box_of, get, mark_of

SURVIVAL_LOST = 0.3  # below: the object is lost in the augmented frame
L0 = 16.0  # grey levels added to the local mean luminance in both normalisations
_C_REF = 0.1  # contrast at which the contrast cue gets half weight
C_VISIBLE = 0.25  # contrast C at which an object plainly stands out from its surround, whatever the original
_S_REF = 0.1  # rms normalised gradient at which the structure cue gets half weight
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _check(name: str, arr: np.ndarray, shape: tuple | None) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"survival_scores: {name} must be (H, W, 3) RGB, got shape {arr.shape}")
    if shape is not None and arr.shape[:2] != shape:
        raise ValueError(f"survival_scores: {name} is {arr.shape[:2]}, the instance image is {shape}: the "
                         "augmented frame must be aligned to (and the size of) the ground truth frame")
    return arr


def _gradients(lum: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    return np.stack([gx, gy], axis=-1)


def _score_one(orig: np.ndarray, aug: np.ndarray, mask: np.ndarray, ring: np.ndarray, band: np.ndarray) -> float:
    """orig/aug (h, w, 3) float32 crops; mask/ring/band (h, w) bool."""
    both = mask | ring
    weights, ratios = [], []
    lum_o, lum_a = orig @ _LUMA, aug @ _LUMA
    norm_o = float(lum_o[both].mean()) + L0
    norm_a = float(lum_a[both].mean()) + L0
    if ring.any():
        c_o = float(np.linalg.norm(orig[mask].mean(0) - orig[ring].mean(0))) / norm_o
        c_a = float(np.linalg.norm(aug[mask].mean(0) - aug[ring].mean(0))) / norm_a
        weights.append(c_o / (c_o + _C_REF))
        ratios.append(min(1.0, max(c_a / c_o if c_o > 1e-9 else 1.0, c_a / C_VISIBLE)))
    g_o = _gradients(lum_o)[band] / norm_o
    g_a = _gradients(lum_a)[band] / norm_a
    energy = float((g_o * g_o).sum())
    rms = float(np.sqrt(energy / max(1, len(g_o))))
    weights.append(rms / (rms + _S_REF))
    ratios.append(min(1.0, float(np.abs((g_o * g_a).sum(-1)).sum()) / energy) if energy > 1e-12 else 1.0)
    wsum = sum(weights)
    if wsum < 1e-6:
        return 1.0
    return float(np.clip(sum(w * r for w, r in zip(weights, ratios)) / wsum, 0.0, 1.0))


def survival_scores(original: np.ndarray, augmented: np.ndarray, objects: Sequence[Any],
                    instance: np.ndarray, *, min_pixels: int = 4) -> dict[int, float]:
    """{actor_id: score in [0, 1]} for each object with a mark > 0 and at least `min_pixels` pixels of its id in
    `instance` (H, W). original / augmented: (H, W, 3) uint8 RGB frames aligned to `instance`. Objects without
    enough pixels get no entry (nothing to check)."""
    instance = np.asarray(instance)
    if instance.ndim != 2:
        raise ValueError(f"survival_scores: instance must be (H, W) actor ids, got shape {instance.shape}")
    shape = instance.shape
    original = _check("original", original, shape)
    augmented = _check("augmented", augmented, shape)
    height, width = shape
    scores: dict[int, float] = {}
    for obj in objects:
        if mark_of(obj) <= 0:
            continue
        aid = int(get(obj, "actor_id", 0))
        box = box_of(obj)
        if box is not None:
            bx0, by0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
            bx1, by1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
            inside = instance[by0:by1, bx0:bx1] == aid
            if int(inside.sum()) < min_pixels:  # box disagrees with the instance image: search the whole frame
                box = None
        if box is None:
            ys, xs = np.nonzero(instance == aid)
            if len(xs) < min_pixels:
                continue
            bx0, by0, bx1, by1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        size = np.sqrt(max(1, (bx1 - bx0) * (by1 - by0)))
        r = int(np.clip(round(0.25 * size), 2, 24))
        m = r + 2
        x0, y0, x1, y1 = max(0, bx0 - m), max(0, by0 - m), min(width, bx1 + m), min(height, by1 + m)
        inst = instance[y0:y1, x0:x1]
        mask = inst == aid
        if int(mask.sum()) < min_pixels:
            continue
        mask_u8 = mask.astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        ring_all = cv2.dilate(mask_u8, kernel).astype(bool) & ~mask
        ring = ring_all & (inst == 0)
        if ring.sum() < max(8, 0.25 * ring_all.sum()):
            ring = ring_all
        band = cv2.dilate(mask_u8, np.ones((3, 3), np.uint8)).astype(bool)
        o = original[y0:y1, x0:x1].astype(np.float32)
        a = augmented[y0:y1, x0:x1].astype(np.float32)
        scores[aid] = _score_one(o, a, mask, ring, band)
    return scores


def with_survival(objects: Iterable[Any], scores: dict[int, float]) -> list[Any]:
    """Copies of `objects` (ObjectAnnotation or dicts) with `survival` set from `scores` (None when not scored)."""
    out = []
    for obj in objects:
        s = scores.get(int(get(obj, "actor_id", 0)))
        if isinstance(obj, dict):
            out.append({**obj, "survival": s})
        else:
            out.append(obj.model_copy(update={"survival": s}))
    return out


# lit-lamp colours by hue (degrees): the renderer's lamps are red ~2, yellow ~45, green ~145
LAMP_HUES = {"red": ((340.0, 360.0), (0.0, 22.0)), "yellow": ((22.0, 75.0),), "green": ((75.0, 200.0),)}
LAMP_MIN_SATURATION, LAMP_MIN_VALUE = 0.35, 0.3


def colour_name(rgb) -> str | None:
    """'red' | 'yellow' | 'green' for a saturated, bright enough RGB pixel (0..255), else None."""
    r, g, b = (float(x) / 255.0 for x in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    if mx < LAMP_MIN_VALUE or mx <= 0 or (mx - mn) / mx < LAMP_MIN_SATURATION:
        return None
    d = mx - mn
    if mx == r:
        hue = (60.0 * ((g - b) / d)) % 360.0
    elif mx == g:
        hue = 60.0 * ((b - r) / d) + 120.0
    else:
        hue = 60.0 * ((r - g) / d) + 240.0
    for name, spans in LAMP_HUES.items():
        if any(lo <= hue < hi for lo, hi in spans):
            return name
    return None


def _lamp_window(shape, u: float, v: float, radius: float) -> tuple[int, int, int, int] | None:
    h, w = shape[:2]
    r = max(1.0, float(radius))
    x0, x1 = max(0, int(np.floor(u - r))), min(w, int(np.ceil(u + r)) + 1)
    y0, y1 = max(0, int(np.floor(v - r))), min(h, int(np.ceil(v + r)) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _lamp_score(patch: np.ndarray) -> np.ndarray:
    p = patch.reshape(-1, 3).astype(np.float32)
    mx, mn = p.max(1), p.min(1)
    return (mx - mn) * mx


def lamp_uncovered(before: np.ndarray, after: np.ndarray, u: float, v: float, radius: float) -> bool:
    """Whether an overlay drawn over `before` (giving `after`, e.g. the Set-of-Mark image) left the lamp at (u, v)
    showing: the pixel lamp_colour reads its colour from is unchanged, and so is at least half of the window. (Read
    on `after` alone, the light's own outline next to the lamp would be taken for the lamp.)"""
    win = _lamp_window(before.shape, u, v, radius)
    if win is None:
        return False
    x0, y0, x1, y1 = win
    a, b = before[y0:y1, x0:x1].reshape(-1, 3), after[y0:y1, x0:x1].reshape(-1, 3)
    same = (a == b).all(1)
    return bool(same[int(np.argmax(_lamp_score(a)))]) and float(same.mean()) >= 0.5


def lamp_colour(image: np.ndarray, u: float, v: float, radius: float) -> str | None:
    """The colour the lamp centred at (u, v) shows in an (H, W, 3) RGB image: the name of its most saturated-and-
    bright pixel within max(1, radius) px, or None when no pixel there shows a lamp colour."""
    win = _lamp_window(image.shape, u, v, radius)
    if win is None:
        return None
    x0, y0, x1, y1 = win
    patch = image[y0:y1, x0:x1].reshape(-1, 3)
    return colour_name(patch[int(np.argmax(_lamp_score(patch)))])
