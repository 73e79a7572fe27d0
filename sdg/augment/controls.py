"""Control videos for Cosmos-Transfer (edge, depth, seg, vis) and CARLA's sensor encodings.

Control frames are made once per clip from the simulator's ground truth and reused by every augmentation variant.
All frame arrays are clips: (T, H, W[, C]). Colour frames are RGB channel order (CARLA's raw buffers are BGRA;
convert before calling).

CARLA encodings (0.9.16), each a pure function with an exact inverse:
- depth: 24 bits, ``normalized = (R + G*256 + B*256**2) / (256**3 - 1)``, ``metres = 1000 * normalized``. One step
  is 1000 / (2**24 - 1) ~= 6e-5 m over the whole 0..1000 m range (no 65.5 m overflow as with uint16 millimetres).
- instance: ``R = semantic tag``, ``G + 256*B = object id`` (ids 0..65535).
- normals: ``rgb = (n + 1) / 2`` scaled to 0..255, n a unit camera-space normal.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from sdg.geometry import SKY_DEPTH
from sdg.tags import PALETTE, TAG, TAG_NAMES

DEPTH_RANGE_M = 1000.0
DEPTH_CODES = 256**3 - 1  # 16_777_215
DEPTH_STEP_M = DEPTH_RANGE_M / DEPTH_CODES  # one 24-bit step, ~5.96e-5 m

# Classes whose *texture* edges are dropped from the edge control by default (the role of the workflow's
# filter_semantic_classes.yaml): sky, vegetation and terrain carry noisy texture that the generator should be free to
# repaint. Their outlines against other classes are kept through the semantic-boundary term.
DEFAULT_EDGE_FILTER = ("sky", "vegetation", "terrain")

# Cosmos-Transfer's named edge presets map to Canny (low, high) thresholds of this size; "medium" is the default.
CANNY_PRESETS = {"very_low": (20, 50), "low": (50, 100), "medium": (100, 200), "high": (200, 300),
                 "very_high": (300, 400)}

CONTROL_NAMES = ("edge", "depth", "seg", "vis")


# ----------------------------------------------------------------------------------------------- validation
def _as_clip(a: np.ndarray, name: str, ndim: int, channels: int | None = None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == ndim - 1:  # a single frame: add T = 1
        a = a[None]
    if a.ndim != ndim or (channels is not None and a.shape[-1] != channels):
        want = "(T,H,W,%d)" % channels if channels else "(T,H,W)"
        raise ValueError(f"{name}: expected an array of shape {want} (or one frame without T), got {a.shape}")
    return a


def _check_same_frames(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape[:3] != b.shape[:3]:
        raise ValueError(f"{name_a} has frames {a.shape[:3]} but {name_b} has {b.shape[:3]}; they must be the same "
                         f"clip (T,H,W)")


def resolve_classes(classes: Iterable[int | str] | None) -> np.ndarray:
    """Tag ids from tag ids or names (``sdg.tags.TAG_NAMES``); None -> DEFAULT_EDGE_FILTER."""
    if classes is None:
        classes = DEFAULT_EDGE_FILTER
    out = []
    for c in classes:
        if isinstance(c, str):
            if c not in TAG:
                raise ValueError(f"edge filter class {c!r} is not a CARLA tag name; use one of {TAG_NAMES}")
            out.append(TAG[c])
        else:
            ci = int(c)
            if not 0 <= ci < len(TAG_NAMES):
                raise ValueError(f"edge filter class {ci} is not a CARLA tag (0..{len(TAG_NAMES) - 1})")
            out.append(ci)
    return np.array(sorted(set(out)), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------- boundaries
def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """(…, H, W) bool: True on every pixel with a 4-neighbour of a different label (both sides of a boundary,
    so an object's own outermost pixels are always included)."""
    lab = np.asarray(labels)
    out = np.zeros(lab.shape, dtype=bool)
    dx = lab[..., :, 1:] != lab[..., :, :-1]
    dy = lab[..., 1:, :] != lab[..., :-1, :]
    out[..., :, 1:] |= dx
    out[..., :, :-1] |= dx
    out[..., 1:, :] |= dy
    out[..., :-1, :] |= dy
    return out


# ----------------------------------------------------------------------------------------------- controls
def edge_frames(rgb: np.ndarray, semantic: np.ndarray, filter_classes: Iterable[int | str] | None = None,
                low: float = 100.0, high: float = 200.0, instance: np.ndarray | None = None) -> np.ndarray:
    """Edge control, (T,H,W,3) uint8 with values 0 / 255 only.

    Per frame: the pixels of ``filter_classes`` (default sky, vegetation, terrain) are blanked to one flat grey, so
    their texture produces no Canny edges; Canny(low, high) (L2 gradient) runs on the luminance; Canny responses
    inside filtered regions are dropped; then the semantic class boundaries and, when ``instance`` (T,H,W) ids is
    given, the instance boundaries are added, so object outlines are present even where the image has no contrast.
    Pass ``filter_classes=()`` to keep every texture edge.
    """
    rgb = _as_clip(rgb, "rgb", 4, 3)
    semantic = _as_clip(semantic, "semantic", 3)
    _check_same_frames("rgb", rgb, "semantic", semantic)
    if rgb.dtype != np.uint8:
        raise ValueError(f"rgb: expected uint8 frames, got {rgb.dtype}")
    if instance is not None:
        instance = _as_clip(instance, "instance", 3)
        _check_same_frames("rgb", rgb, "instance", instance)
    if not (0 <= low <= high):
        raise ValueError(f"edge thresholds must satisfy 0 <= low <= high, got low={low}, high={high}")
    filt = resolve_classes(filter_classes)
    lut = np.zeros(256, dtype=bool)
    lut[filt] = True
    out = np.zeros(rgb.shape, dtype=np.uint8)
    for t in range(rgb.shape[0]):
        gray = cv2.cvtColor(rgb[t], cv2.COLOR_RGB2GRAY)
        mask = lut[semantic[t]]
        if mask.any():
            gray = gray.copy()
            gray[mask] = np.uint8(int(gray[mask].mean()))
        e = cv2.Canny(gray, float(low), float(high), L2gradient=True) > 0
        e &= ~mask
        e |= label_boundaries(semantic[t])
        if instance is not None:
            e |= label_boundaries(instance[t])
        out[t][e] = 255
    return out


def depth_frames(depth: np.ndarray, near: float | None = None, far: float | None = None) -> np.ndarray:
    """Depth control, (T,H,W,3) uint8 grey: inverse depth from the float metres, normalised once per clip so
    ``near`` -> 255 (bright) and ``far`` -> 0. Defaults: ``near`` = the clip's 1st percentile depth (at least
    0.05 m), ``far`` = the clip's largest finite depth (the sky's 1000 m in CARLA). Values outside [near, far] are
    clipped; NaN / inf depth counts as far."""
    depth = _as_clip(depth, "depth", 3)
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth: expected float metres (float32), got {depth.dtype}; decode uint16/CARLA-RGB depth "
                         f"to metres first (carla_rgb_to_depth), never feed an 8-bit view of it")
    d = depth.astype(np.float32, copy=False)
    finite = np.isfinite(d)
    if (d[finite] < 0).any():
        raise ValueError("depth: negative metres found; planar depth must be >= 0")
    sample = d[:, ::4, ::4]
    sample = sample[np.isfinite(sample) & (sample > 0)]
    if far is None:
        far = float(d[finite].max()) if finite.any() else SKY_DEPTH
    if near is None:
        near = float(np.percentile(sample, 1.0)) if sample.size else 0.05
    near = max(float(near), 0.05)
    far = max(float(far), near * 1.001)
    inv_near, inv_far = 1.0 / near, 1.0 / far
    dd = np.where(finite, np.clip(d, near, far), far)
    v = (1.0 / dd - inv_far) * (255.0 / (inv_near - inv_far))
    g = np.clip(v + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def seg_frames(semantic: np.ndarray) -> np.ndarray:
    """Segmentation control, (T,H,W,3) uint8: CARLA's CityScapesPalette colour of each tag (sdg.tags.PALETTE)."""
    semantic = _as_clip(semantic, "semantic", 3)
    if semantic.size and int(semantic.max()) >= len(PALETTE):
        raise ValueError(f"semantic: tag {int(semantic.max())} is not a CARLA tag (0..{len(PALETTE) - 1})")
    return PALETTE[semantic.astype(np.intp, copy=False)]


def vis_frames(rgb: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    """'vis' control (Cosmos blur control): the RGB frames Gaussian-blurred with ``sigma`` pixels, (T,H,W,3) uint8."""
    rgb = _as_clip(rgb, "rgb", 4, 3)
    if sigma <= 0:
        return rgb.copy()
    return np.stack([cv2.GaussianBlur(f, (0, 0), float(sigma)) for f in rgb])


def make_controls(rgb: np.ndarray, depth: np.ndarray, semantic: np.ndarray, names: Sequence[str],
                  instance: np.ndarray | None = None, filter_classes: Iterable[int | str] | None = None,
                  ) -> dict[str, np.ndarray]:
    """The requested control clips, name -> (T,H,W,3) uint8. names from ``CONTROL_NAMES``."""
    out: dict[str, np.ndarray] = {}
    for n in names:
        if n == "edge":
            out[n] = edge_frames(rgb, semantic, filter_classes=filter_classes, instance=instance)
        elif n == "depth":
            out[n] = depth_frames(depth)
        elif n == "seg":
            out[n] = seg_frames(semantic)
        elif n == "vis":
            out[n] = vis_frames(rgb)
        else:
            raise ValueError(f"unknown control {n!r}; choose from {CONTROL_NAMES}")
    return out


# ----------------------------------------------------------------------------------------------- CARLA encodings
def depth_to_carla_rgb(depth_m: np.ndarray) -> np.ndarray:
    """Float metres (…) -> (…, 3) uint8 RGB in CARLA's 24-bit depth encoding. Rounds to the nearest 24-bit step;
    values beyond 0..1000 m saturate."""
    d = np.asarray(depth_m, dtype=np.float64)
    if np.isnan(d).any():
        raise ValueError("depth_to_carla_rgb: NaN depth cannot be encoded")
    n = np.rint(np.clip(d, 0.0, DEPTH_RANGE_M) * (DEPTH_CODES / DEPTH_RANGE_M)).astype(np.uint32)
    out = np.empty(d.shape + (3,), dtype=np.uint8)
    out[..., 0] = n & 0xFF
    out[..., 1] = (n >> 8) & 0xFF
    out[..., 2] = (n >> 16) & 0xFF
    return out


def carla_rgb_to_depth(rgb: np.ndarray, dtype=np.float32) -> np.ndarray:
    """(…, 3) uint8 RGB CARLA depth image -> metres (…) as ``dtype``. Use float64 for a bit-exact round trip back
    to the codes; float32 keeps depth within one 24-bit step."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"carla_rgb_to_depth: expected (..., 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    n = rgb[..., 0].astype(np.uint32) | (rgb[..., 1].astype(np.uint32) << 8) | (rgb[..., 2].astype(np.uint32) << 16)
    return (n.astype(np.float64) * (DEPTH_RANGE_M / DEPTH_CODES)).astype(dtype)


def instance_to_carla(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """Tags (…) uint8 + object ids (…) in 0..65535 -> (…, 3) uint8 CARLA instance image (R tag, G + 256·B id)."""
    sem = np.asarray(semantic)
    ids = np.asarray(instance)
    if sem.shape != ids.shape:
        raise ValueError(f"instance_to_carla: semantic {sem.shape} and instance {ids.shape} shapes differ")
    if sem.size and (int(sem.min()) < 0 or int(sem.max()) > 255):
        raise ValueError("instance_to_carla: semantic tags must fit in 0..255")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) > 0xFFFF):
        raise ValueError(f"instance_to_carla: ids must be in 0..65535 (16 bits of G, B), got "
                         f"{int(ids.min())}..{int(ids.max())}")
    ids = ids.astype(np.uint32)
    out = np.empty(sem.shape + (3,), dtype=np.uint8)
    out[..., 0] = sem
    out[..., 1] = ids & 0xFF
    out[..., 2] = ids >> 8
    return out


def carla_to_instance(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(…, 3) uint8 CARLA instance image -> (tags (…) uint8, ids (…) uint16)."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"carla_to_instance: expected (..., 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    ids = rgb[..., 1].astype(np.uint16) | (rgb[..., 2].astype(np.uint16) << 8)
    return rgb[..., 0].copy(), ids


def normals_to_rgb(normals: np.ndarray) -> np.ndarray:
    """(…, 3) unit normals in [-1, 1] -> (…, 3) uint8, ``round((n + 1) / 2 * 255)``."""
    n = np.asarray(normals, dtype=np.float32)
    if n.shape[-1] != 3:
        raise ValueError(f"normals_to_rgb: expected (..., 3) normals, got {n.shape}")
    return np.clip(np.rint((n + 1.0) * 127.5), 0, 255).astype(np.uint8)


def rgb_to_normals(rgb: np.ndarray) -> np.ndarray:
    """(…, 3) uint8 -> (…, 3) float32 normals, ``rgb / 255 * 2 - 1`` (exact inverse of normals_to_rgb on its codes;
    a normal survives the round trip within 1/255)."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb_to_normals: expected (..., 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return rgb.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
