"""Benchmark of sdg.augment.video: H.264 encode of a control clip (lossless 4:4:4) and of an RGB clip (crf 16,
4:2:0), and decode, in milliseconds per frame, with the size of the encoded clip.

The clips are made here: a segmentation-like control (flat palette regions with moving boxes) and a textured RGB
street-like clip (gradients, noise and moving boxes), both changing every frame, so the encoder has real work.

    python benchmarks/bench_video.py [--frames N] [--width W] [--height H]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from sdg.augment.video import decode_mp4, encode_mp4
from sdg.tags import PALETTE


def make_clips(t: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.zeros((t, h, w), np.uint8)
    labels[:, h // 2:] = 1  # road
    labels[:, : h // 3] = 11  # sky
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        for k in range(12):
            x0 = (k * 97 + i * (3 + k)) % max(1, w - w // 10)
            y0 = h // 2 + (k * 31) % max(1, h // 3)
            labels[i, y0:y0 + h // 12, x0:x0 + w // 10] = 14 + k % 6
        base = np.dstack([60 + 120 * xx / w, 70 + 100 * yy / h, np.full_like(xx, 90.0 + i)])
        rgb[i] = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    return PALETTE[labels], rgb


def timed(fn, n: int) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0 / n, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    a = ap.parse_args()
    seg, rgb = make_clips(a.frames, a.height, a.width)
    print(f"{a.frames} frames of {a.width}x{a.height}")
    results = {}
    for name, clip, profile in (("control", seg, "control"), ("rgb", rgb, "rgb")):
        encode_mp4(clip[:2], 10.0, profile=profile)  # warm-up (codec init)
        ms_enc, data = timed(lambda: encode_mp4(clip, 10.0, profile=profile), a.frames)
        ms_dec, back = timed(lambda: decode_mp4(data), a.frames)
        err = int(np.abs(back.astype(np.int16) - clip.astype(np.int16)).max())
        print(f"{name:8s} encode {ms_enc:7.1f} ms/frame  decode {ms_dec:6.1f} ms/frame  "
              f"{len(data) / a.frames / 1024:7.1f} KiB/frame  max |error| {err}")
        results[name] = ms_enc
    print(f"control_encode_ms_per_frame: {results['control']:.1f}")


if __name__ == "__main__":
    main()
