"""MP4 (H.264) encode/decode of whole clips with PyAV (FFmpeg's libx264 and decoders, no external binaries).

Conventions: a clip is a (T, H, W, 3) uint8 array in RGB order; (T, H, W) uint8 greyscale clips are accepted by the
encoder and written as grey RGB. Encoding profiles, the first two as CARLA's own Cosmos example makes its inputs:

* ``"control"``: H.264 4:4:4 **lossless** (libx264 ``qp 0``, ``yuv444p``). Only the RGB <-> YUV conversion rounds, so
  a decoded control pixel is within ±1 of the encoded one (segmentation palette colours survive). FFV1 would be
  exact but is not reliably read from MP4 by the readers the Cosmos backends use (imageio-ffmpeg, PyAV, decord).
* ``"rgb"`` (default): H.264 ``yuv420p`` at ``crf`` 16, visually lossless, for the simulator's and the augmented
  videos.
* ``"som"``: the same quality with the fastest preset, for the Set-of-Mark videos (one per video and event of a clip).

Every clip is written with exactly its T frames at a constant ``fps`` (frame i at time i / fps). MP4 H.264 needs
even frame sizes for 4:2:0, and every profile pads odd heights/widths by repeating the last row/column; pass
``size=(H, W)`` to :func:`decode_mp4` / :func:`read_mp4` to crop back. PyAV keeps FFmpeg's log quiet: nothing is
printed on stderr while encoding or decoding.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["VideoError", "VideoInfo", "PROFILES", "mp4_codec", "encode_mp4", "write_mp4", "decode_mp4", "read_mp4",
           "probe_mp4", "even_size"]


class VideoError(Exception):
    """A clip that cannot be encoded or a file/bytes that cannot be decoded; the message names the source."""


@dataclass(frozen=True)
class _Profile:
    pix_fmt: str
    options: tuple[tuple[str, str], ...]


#: Encoding profiles by name (see the module docstring). The preset only trades encoding time for file size: the
#: control profile is lossless whatever the preset, and crf fixes the quality of the rgb profile.
PROFILES: dict[str, _Profile] = {
    "rgb": _Profile("yuv420p", (("crf", "16"), ("preset", "veryfast"))),
    "control": _Profile("yuv444p", (("qp", "0"), ("preset", "veryfast"))),
    # Set-of-Mark videos: the same quality (crf 16), the fastest preset: a clip makes one per video and event
    # (measured at 1280x720: 21 CPU-ms/frame against veryfast's 71, files ~1.8x larger)
    "som": _Profile("yuv420p", (("crf", "16"), ("preset", "ultrafast"))),
}
#: encoder threads: one. Work is parallel across clips (Ray tasks and actors, each with its CPU share); x264's own
#: threads on top of that only wait on each other (measured: 3.5x the wall time on a busy 2-core machine)
ENCODER_THREADS = 1


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its first video stream."""

    codec: str  # FFmpeg decoder name, e.g. "h264"
    pix_fmt: str  # e.g. "yuv444p"
    width: int
    height: int
    frames: int  # frames decoded
    fps: float  # average frame rate


def mp4_codec() -> str:
    """The FourCC of the MP4 video track every profile writes: 'avc1' (H.264)."""
    return "avc1"


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


def _rate(fps: float, what: str) -> Fraction:
    try:
        ok = fps > 0 and np.isfinite(fps)
    except TypeError:
        ok = False
    if not ok:
        raise VideoError(f"{what}: fps must be > 0, got {fps}")
    rate = Fraction(float(fps)).limit_denominator(100_000)  # 10.000000000000002 -> 10, 29.97 -> 2997/100
    if rate <= 0:
        raise VideoError(f"{what}: fps {fps} is too small to encode")
    return rate


def encode_mp4(frames: np.ndarray, fps: float, profile: str = "rgb", what: str = "<clip>") -> bytes:
    """Encode an RGB clip to H.264 MP4 bytes at ``fps`` with ``profile`` (``"rgb"``, ``"control"`` or ``"som"``)."""
    if profile not in PROFILES:
        raise VideoError(f"{what}: unknown video profile {profile!r}; use one of {sorted(PROFILES)}")
    rate = _rate(fps, what)
    clip = _as_rgb_clip(frames, what)
    prof = PROFILES[profile]
    buf = io.BytesIO()
    try:
        with av.open(buf, mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height = int(clip.shape[2]), int(clip.shape[1])
            stream.pix_fmt = prof.pix_fmt
            stream.options = dict(prof.options)
            stream.codec_context.thread_count = ENCODER_THREADS
            for i in range(clip.shape[0]):
                frame = av.VideoFrame.from_ndarray(clip[i], format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    except (av.FFmpegError, ValueError) as e:
        raise VideoError(f"{what}: H.264 encoding failed ({type(e).__name__}: {e})") from None
    data = buf.getvalue()
    if not data:
        raise VideoError(f"{what}: the encoder produced no data ({clip.shape[0]} frames of "
                         f"{clip.shape[2]}x{clip.shape[1]})")
    return data


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float, profile: str = "rgb") -> str:
    """Write an RGB clip to ``path`` as H.264 MP4 (see :func:`encode_mp4`). Returns the FourCC ('avc1')."""
    data = encode_mp4(frames, fps, profile, what=str(path))
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise VideoError(f"{path}: cannot write the video ({e.strerror or e}); is the folder writable?") from None
    return mp4_codec()


def _open(source: str | io.BytesIO, name: str):
    try:
        return av.open(source, mode="r")
    except (av.FFmpegError, ValueError) as e:
        raise VideoError(f"{name}: cannot open this video (not an MP4, truncated, or an unsupported codec: "
                         f"{type(e).__name__})") from None


def _decode(source: str | io.BytesIO, name: str, size: tuple[int, int] | None) -> np.ndarray:
    frames = []
    with _open(source, name) as container:
        if not container.streams.video:
            raise VideoError(f"{name}: the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for f in container.decode(stream):
                frames.append(f.to_ndarray(format="rgb24"))
        except (av.FFmpegError, ValueError) as e:
            if not frames:
                raise VideoError(f"{name}: cannot decode this video ({type(e).__name__}: {e})") from None
            raise VideoError(f"{name}: decoding failed after {len(frames)} frames ({type(e).__name__}); the file "
                             "is truncated or corrupt") from None
    if not frames:
        raise VideoError(f"{name}: the video has no decodable frames")
    clip = np.ascontiguousarray(np.stack(frames))
    if size is not None:
        h, w = size
        if h > clip.shape[1] or w > clip.shape[2]:
            raise VideoError(f"{name}: cannot crop {clip.shape[2]}x{clip.shape[1]} frames to {w}x{h}")
        clip = np.ascontiguousarray(clip[:, :h, :w])
    return clip


def read_mp4(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode every frame of a video file to (T, H, W, 3) uint8 RGB. ``size=(H, W)`` crops the (padded) frames back
    to that size; it must not exceed the decoded size."""
    p = str(path)
    if not os.path.isfile(p):
        raise VideoError(f"{p}: no such video file")
    return _decode(p, p, size)


def decode_mp4(data: bytes, size: tuple[int, int] | None = None, name: str = "<mp4 bytes>") -> np.ndarray:
    """Decode MP4 bytes to (T, H, W, 3) uint8 RGB (see :func:`read_mp4`); ``name`` labels errors."""
    if not data:
        raise VideoError(f"{name}: empty video data")
    return _decode(io.BytesIO(data), name, size)


def probe_mp4(source: str | os.PathLike | bytes, name: str | None = None) -> VideoInfo:
    """Codec, pixel format, size, decoded frame count and frame rate of a video file or MP4 bytes."""
    if isinstance(source, (bytes, bytearray)):
        name = name or "<mp4 bytes>"
        src: str | io.BytesIO = io.BytesIO(bytes(source))
    else:
        name = name or str(source)
        if not os.path.isfile(str(source)):
            raise VideoError(f"{name}: no such video file")
        src = str(source)
    with _open(src, name) as container:
        if not container.streams.video:
            raise VideoError(f"{name}: the file has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        n = sum(1 for _ in container.decode(stream))
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(codec=ctx.name, pix_fmt=str(ctx.pix_fmt), width=int(ctx.width), height=int(ctx.height),
                         frames=n, fps=float(rate) if rate else 0.0)
