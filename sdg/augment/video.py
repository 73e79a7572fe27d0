"""MP4 encode/decode of whole clips with OpenCV.

Conventions: a clip is a (T, H, W, 3) uint8 array in RGB order (OpenCV's BGR is handled here and never leaks out);
(T, H, W) uint8 greyscale clips are accepted by the encoder and written as grey RGB. The codec is H.264 ('avc1') when
the cv2 build can open an encoder for it, else MPEG-4 Part 2 ('mp4v'). Both are lossy: a decoded pixel differs from the
encoded one by a few levels on smooth content. MP4 codecs need even frame sizes, so odd heights/widths are padded by
repeating the last row/column; pass ``size=(H, W)`` to :func:`decode_mp4` to crop back.
"""
from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

__all__ = ["VideoError", "mp4_codec", "encode_mp4", "write_mp4", "decode_mp4", "read_mp4", "even_size"]


class VideoError(Exception):
    """A clip that cannot be encoded or a file/bytes that cannot be decoded; the message names the source."""


@lru_cache(maxsize=1)
def mp4_codec() -> str:
    """The FourCC used for MP4 output: 'avc1' (H.264) if this cv2 build can open it, else 'mp4v'. Probed once."""
    log = cv2.utils.logging
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        with tempfile.TemporaryDirectory(prefix="sdg-probe-") as d:
            w = cv2.VideoWriter(os.path.join(d, "probe.mp4"), cv2.VideoWriter_fourcc(*"avc1"), 10.0, (64, 64))
            ok = w.isOpened()
            w.release()
    finally:
        log.setLogLevel(old)
    return "avc1" if ok else "mp4v"


def even_size(h: int, w: int) -> tuple[int, int]:
    """The (H, W) an MP4 of an H x W clip has after the encoder's even-size padding."""
    return h + (h & 1), w + (w & 1)


def _as_rgb_clip(frames: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(frames)
    if a.dtype != np.uint8:
        raise VideoError(f"{what}: frames must be uint8, got {a.dtype}; scale/convert to 0..255 uint8 first")
    if a.ndim == 3:
        a = np.repeat(a[..., None], 3, axis=3)
    if a.ndim != 4 or a.shape[3] != 3:
        raise VideoError(f"{what}: expected (T,H,W,3) or (T,H,W) frames, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] == 0:
        raise VideoError(f"{what}: empty clip, shape {a.shape}")
    h, w = a.shape[1:3]
    eh, ew = even_size(h, w)
    if (eh, ew) != (h, w):
        a = np.pad(a, ((0, 0), (0, eh - h), (0, ew - w), (0, 0)), mode="edge")
    return a


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float) -> str:
    """Write an RGB clip to ``path`` as MP4 at ``fps`` frames/s. Returns the FourCC used."""
    if not (fps > 0):
        raise VideoError(f"{path}: fps must be > 0, got {fps}")
    clip = _as_rgb_clip(frames, str(path))
    t, h, w = clip.shape[:3]
    codec = mp4_codec()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), (w, h))
    if not writer.isOpened():
        raise VideoError(f"{path}: cv2 could not open an MP4 writer ({codec}, {w}x{h}); is the folder writable?")
    try:
        for i in range(t):
            writer.write(np.ascontiguousarray(clip[i, :, :, ::-1]))
    finally:
        writer.release()
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        raise VideoError(f"{path}: the MP4 writer produced no data ({codec}, {w}x{h}, {t} frames)")
    return codec


def encode_mp4(frames: np.ndarray, fps: float) -> bytes:
    """Encode an RGB clip to MP4 bytes (see :func:`write_mp4`)."""
    with tempfile.TemporaryDirectory(prefix="sdg-mp4-") as d:
        p = os.path.join(d, "clip.mp4")
        write_mp4(p, frames, fps)
        return Path(p).read_bytes()


def read_mp4(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode every frame of a video file to (T, H, W, 3) uint8 RGB. ``size=(H, W)`` crops the (padded) frames back
    to that size; it must not exceed the decoded size."""
    p = str(path)
    if not os.path.isfile(p):
        raise VideoError(f"{p}: no such video file")
    cap = cv2.VideoCapture(p)
    if not cap.isOpened():
        raise VideoError(f"{p}: cv2 cannot open this video (not an MP4, truncated, or an unsupported codec)")
    frames = []
    try:
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f[:, :, ::-1])
    finally:
        cap.release()
    if not frames:
        raise VideoError(f"{p}: the video has no decodable frames")
    clip = np.ascontiguousarray(np.stack(frames))
    if size is not None:
        h, w = size
        if h > clip.shape[1] or w > clip.shape[2]:
            raise VideoError(f"{p}: cannot crop {clip.shape[2]}x{clip.shape[1]} frames to {w}x{h}")
        clip = np.ascontiguousarray(clip[:, :h, :w])
    return clip


def decode_mp4(data: bytes, size: tuple[int, int] | None = None, name: str = "<mp4 bytes>") -> np.ndarray:
    """Decode MP4 bytes to (T, H, W, 3) uint8 RGB (see :func:`read_mp4`); ``name`` labels errors."""
    if not data:
        raise VideoError(f"{name}: empty video data")
    with tempfile.TemporaryDirectory(prefix="sdg-mp4-") as d:
        p = os.path.join(d, "clip.mp4")
        Path(p).write_bytes(data)
        try:
            return read_mp4(p, size)
        except VideoError as e:
            raise VideoError(str(e).replace(p, name)) from None
