"""Pure conversions of CARLA camera images (raw BGRA bytes) to sdg's sensor arrays.

CARLA sends every camera image as `image.raw_data`: H x W x 4 bytes in B, G, R, A order. Encodings (DESIGN.md §3):
  rgb       colour in B, G, R;
  depth     planar depth (camera x axis) = 1000 m * (R + G*256 + B*256^2) / (256^3 - 1)  (sky = 1000 m);
  semantic  R = CARLA semantic tag;
  instance  R = semantic tag, G + 256*B = object id;
  normals   R, G, B = (n + 1) / 2 of the unit surface normal in the camera frame (Unreal camera axes x forward,
            y right, z up), converted here to the OpenCV camera frame (x right, y down, z forward) as (y, -z, x).
"""
from __future__ import annotations

import numpy as np

from sdg.geometry import SKY_DEPTH, UE_TO_CV

DEPTH_SCALE = 1000.0 / (256.0 ** 3 - 1.0)  # metres per unit of the 24-bit depth code


def bgra_image(raw, width: int, height: int) -> np.ndarray:
    """`image.raw_data` (bytes-like, or an array) -> (H, W, 4) uint8 view in BGRA order."""
    a = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.reshape(-1).view(np.uint8)
    if a.size != width * height * 4:
        raise ValueError(f"raw image has {a.size} bytes, expected {width}x{height}x4 = {width * height * 4}; "
                         "check the sensor's image_size_x/image_size_y")
    return a.reshape(height, width, 4)


def rgb_from_bgra(bgra: np.ndarray) -> np.ndarray:
    """(…, 4) BGRA -> (…, 3) RGB uint8 (a new contiguous array)."""
    return np.ascontiguousarray(bgra[..., 2::-1])


def depth_from_bgra(bgra: np.ndarray) -> np.ndarray:
    """(…, 4) depth-camera BGRA -> (…) float32 planar depth in metres (exact to float32)."""
    code = (bgra[..., 2].astype(np.uint32) + (bgra[..., 1].astype(np.uint32) << 8)
            + (bgra[..., 0].astype(np.uint32) << 16))
    return (code.astype(np.float64) * DEPTH_SCALE).astype(np.float32)


def depth_to_bgra(depth_m: np.ndarray) -> np.ndarray:
    """Inverse of depth_from_bgra (nearest code), for tests and for writing CARLA-style depth images."""
    code = np.clip(np.rint(np.asarray(depth_m, np.float64) / DEPTH_SCALE), 0, 256 ** 3 - 1).astype(np.uint32)
    out = np.empty(code.shape + (4,), np.uint8)
    out[..., 2] = code & 0xFF
    out[..., 1] = (code >> 8) & 0xFF
    out[..., 0] = (code >> 16) & 0xFF
    out[..., 3] = 255
    return out


def semantic_from_bgra(bgra: np.ndarray) -> np.ndarray:
    """(…, 4) semantic-camera BGRA -> (…) uint8 CARLA tags (the R channel)."""
    return np.ascontiguousarray(bgra[..., 2])


def instance_from_bgra(bgra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(…, 4) instance-camera BGRA -> ((…) uint8 semantic tags, (…) uint32 object ids G + 256*B)."""
    tags = np.ascontiguousarray(bgra[..., 2])
    ids = bgra[..., 1].astype(np.uint32) | (bgra[..., 0].astype(np.uint32) << 8)
    return tags, ids


def normals_from_bgra(bgra: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """(…, 4) normals-camera BGRA -> (…, 3) float32 unit normals in the OpenCV camera frame.

    Pixels whose code is (almost) the zero vector, and sky pixels when `depth` is given (depth >= 0.999 * SKY_DEPTH),
    are (0, 0, 0) like the built-in renderer's sky."""
    rgb = bgra[..., 2::-1].astype(np.float64)
    n_ue = rgb / 255.0 * 2.0 - 1.0
    n_cv = n_ue @ UE_TO_CV.T
    norm = np.linalg.norm(n_cv, axis=-1, keepdims=True)
    valid = norm[..., 0] > 0.5
    if depth is not None:
        valid &= np.asarray(depth) < 0.999 * SKY_DEPTH
    out = np.where(valid[..., None], n_cv / np.where(norm > 0, norm, 1.0), 0.0)
    return out.astype(np.float32)


def normals_to_bgra(n_cv: np.ndarray) -> np.ndarray:
    """Inverse of normals_from_bgra: OpenCV-frame unit normals -> CARLA BGRA code (for tests / fallbacks)."""
    n_ue = np.asarray(n_cv, np.float64) @ UE_TO_CV  # UE_TO_CV is orthonormal: its transpose inverts it
    rgb = np.clip(np.rint((n_ue + 1.0) / 2.0 * 255.0), 0, 255).astype(np.uint8)
    out = np.empty(rgb.shape[:-1] + (4,), np.uint8)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = rgb[..., 2], rgb[..., 1], rgb[..., 0], 255
    return out


def normals_from_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Fallback when a server lacks the normals camera: unit normals (OpenCV camera frame) of the surface seen in a
    planar depth map, from the cross product of neighbouring back-projected points, facing the camera. Sky -> 0."""
    h, w = depth.shape
    u = np.arange(w, dtype=np.float64) + 0.5
    v = np.arange(h, dtype=np.float64) + 0.5
    uu, vv = np.meshgrid(u, v)
    z = depth.astype(np.float64)
    p = np.stack([(uu - K[0, 2]) / K[0, 0] * z, (vv - K[1, 2]) / K[1, 1] * z, z], axis=-1)
    du = np.gradient(p, axis=1)
    dv = np.gradient(p, axis=0)
    n = np.cross(du, dv)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    flip = np.sum(n * p, axis=-1) > 0
    n[flip] *= -1.0
    n[z >= 0.999 * SKY_DEPTH] = 0.0
    return n.astype(np.float32)
