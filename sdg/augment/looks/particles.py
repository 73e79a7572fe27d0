"""Falling weather: rain streaks and snow flakes in three depth layers each, hidden where the scene is nearer than
the layer, lit by the local light level (the frame at 1/16 resolution, blurred).

Rain: anti-aliased motion-blurred streaks, fresh every frame (drawn by OpenCV from the frame's random generator).
Snow: flakes whose positions are continuous over time (seeded per clip), each a Gaussian blob; the blobs are
splatted directly (the same weights as blurring a canvas of points with cv2.GaussianBlur, border reflected) instead
of blurring full frames."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from sdg.augment.base import stable_seed
from sdg.augment.looks.params import LookParams

# (layer distance m, count at 960x540, length px, opacity, thickness px)
RAIN_LAYERS = ((3.0, 120, 70.0, 0.16, 2), (8.0, 420, 34.0, 0.12, 1), (20.0, 1100, 14.0, 0.09, 1))
# (layer distance m, count at 960x540, radius px, fall px/frame, opacity)
SNOW_LAYERS = ((2.5, 70, 2.6, 7.0, 0.85), (6.0, 320, 1.5, 3.5, 0.7), (15.0, 1100, 0.8, 1.6, 0.55))


def local_light(lin: np.ndarray) -> np.ndarray:
    """The frame at 1/16 resolution, blurred: the local light level that lights streaks and flakes."""
    h, w = lin.shape[:2]
    small = cv2.resize(lin, (max(w // 16, 2), max(h // 16, 2)), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 1.5)


def rain_streaks(lin: np.ndarray, depth: np.ndarray, p: LookParams, rng: np.random.Generator, scale: float) -> None:
    """Three depth layers of motion-blurred streaks (anti-aliased lines, fresh every frame), each hidden where
    the scene is nearer than the layer; streaks are lit by the local light level. In place."""
    h, w = depth.shape
    colour = local_light(lin) * np.float32(1.5) + np.float32(0.5) * np.asarray(p.airlight, np.float32)
    ang = np.radians(p.rain_angle_deg)
    canvas = np.zeros((len(RAIN_LAYERS), h, w), np.uint8)
    dists = np.full(len(RAIN_LAYERS), np.inf, np.float32)  # inf: an empty layer
    for i, (dist, count, length, opacity, thick) in enumerate(RAIN_LAYERS):
        n = int(count * p.rain_density * (w * h) / (960 * 540))
        if n == 0:
            continue
        x = rng.uniform(-0.1 * w, 1.1 * w, n)
        y = rng.uniform(-0.1 * h, 1.1 * h, n)
        length_px = length * scale * rng.uniform(0.7, 1.3, n)
        a = ang + rng.normal(0.0, 0.03, n)
        dx, dy = np.sin(a) * length_px, np.cos(a) * length_px
        seg = np.stack([np.stack([x, y], 1), np.stack([x + dx, y + dy], 1)], 1)
        cv2.polylines(canvas[i], np.round(seg * 4).astype(np.int32), False, round(opacity * 255),
                      thickness=max(1, round(thick * scale)), lineType=cv2.LINE_AA, shift=2)
        dists[i] = dist
    alpha = cv2.GaussianBlur(_max_behind(canvas, depth, dists), (3, 3), 0.6)
    _blend(lin, alpha, colour, np.float32(1.0 / 255.0))


@dataclass
class Flakes:
    """The clip's snow flakes: per layer (distance, radius px, fall px/frame, opacity, x0, y0, phase, speed)."""

    layers: list[tuple]
    width: int
    height: int
    scale: float
    wind: float  # px/frame at 960 px width

    @classmethod
    def of_clip(cls, seed: int, p: LookParams, width: int, height: int) -> Flakes:
        rng = np.random.default_rng(stable_seed(seed, "flakes"))
        scale = width / 960.0
        area = width * height / (960 * 540)
        layers = []
        for dist, count, radius, fall, opacity in SNOW_LAYERS:
            n = int(count * p.snow_density * area)
            layers.append((dist, radius * scale, fall * scale, opacity, rng.uniform(0, width, n),
                           rng.uniform(0, height, n), rng.uniform(0, 2 * np.pi, n), rng.uniform(0.7, 1.3, n)))
        return cls(layers, width, height, scale, p.snow_wind_px)

    def draw(self, lin: np.ndarray, depth: np.ndarray, t: int, airlight) -> None:
        """Frame t's flakes onto ``lin`` in place, each layer hidden where the scene is nearer than it; flakes take
        the local light level."""
        w, h, sc = self.width, self.height, self.scale
        colour = local_light(lin) * np.float32(0.8) + np.float32(0.9) * np.asarray(airlight, np.float32)
        alpha = np.zeros((h, w), np.float32)
        scratch = np.zeros((h, w), np.float32)
        for dist, radius, fall, opacity, x0, y0, phase, speed in self.layers:
            x = np.mod(x0 + t * self.wind * sc * speed + 4.0 * sc * np.sin(phase + 0.15 * t), w)
            y = np.mod(y0 + t * fall * speed, h)
            xi, yi = np.minimum(x.astype(np.int64), w - 1), np.minimum(y.astype(np.int64), h - 1)
            cells = np.unique(yi * w + xi)  # a point per pixel, however many flakes fall in it
            sigma = max(radius * 0.6, 0.5)
            k = int(2 * np.ceil(3 * sigma) + 1)
            kern = cv2.getGaussianKernel(k, sigma, cv2.CV_32F).ravel()
            amp = np.float32(2.0 * np.pi * sigma * sigma * 0.6 * opacity)
            _flake_layer(alpha, scratch, depth, cells // w, cells % w, kern, amp, np.float32(dist))
        _blend(lin, alpha, colour, np.float32(1.0))


@njit(cache=True)
def _max_behind(layers, depth, dists):
    """Per pixel the maximum over the layers that are not behind the scene (depth >= the layer's distance)."""
    n, h, w = layers.shape
    out = np.zeros((h, w), np.uint8)
    for y in range(h):
        for x in range(w):
            d = depth[y, x]
            a = np.uint8(0)
            for i in range(n):
                if layers[i, y, x] > a and d >= dists[i]:
                    a = layers[i, y, x]
            out[y, x] = a
    return out


@njit(cache=True)
def _mirrors(p, n):
    """Positions whose border-reflected (reflect-101) image is p: p itself, -p, 2 (n - 1) - p."""
    return p, (-p if p > 0 else p), (2 * (n - 1) - p if p < n - 1 else p)


@njit(cache=True)
def _flake_layer(alpha, scratch, depth, ys, xs, kern, amp, dist):
    """One layer: splat a Gaussian (separable ``kern``) at each point into ``scratch`` (as cv2.GaussianBlur of a
    canvas of ones at the points), then alpha = max(alpha, amp * scratch) where the scene is not nearer than
    ``dist``; ``scratch`` is left zeroed."""
    h, w = alpha.shape
    r = kern.size // 2
    for i in range(ys.size):
        my = _mirrors(ys[i], h)
        mx = _mirrors(xs[i], w)
        for a in range(3):
            qy = my[a]
            if a > 0 and qy == ys[i]:
                continue
            for b in range(3):
                qx = mx[b]
                if b > 0 and qx == xs[i]:
                    continue
                for yy in range(max(qy - r, 0), min(qy + r + 1, h)):
                    ky = kern[yy - qy + r]
                    for xx in range(max(qx - r, 0), min(qx + r + 1, w)):
                        scratch[yy, xx] += ky * kern[xx - qx + r]
    for i in range(ys.size):
        for yy in range(max(ys[i] - r, 0), min(ys[i] + r + 1, h)):
            for xx in range(max(xs[i] - r, 0), min(xs[i] + r + 1, w)):
                v = scratch[yy, xx] * amp
                if v > alpha[yy, xx] and depth[yy, xx] >= dist:
                    alpha[yy, xx] = v
    for i in range(ys.size):
        for yy in range(max(ys[i] - r, 0), min(ys[i] + r + 1, h)):
            for xx in range(max(xs[i] - r, 0), min(xs[i] + r + 1, w)):
                scratch[yy, xx] = 0.0


@njit(cache=True)
def _blend(lin, alpha, colour, unit):
    """In place: ``lin += a * (colour - lin)`` where alpha > 0, a = min(alpha * unit, 1), colour looked up in a
    low-resolution (h, w, 3) image by nearest cell."""
    h, w = alpha.shape
    sh, sw = colour.shape[:2]
    one = np.float32(1.0)
    for y in range(h):
        cy = (y * sh) // h
        for x in range(w):
            if alpha[y, x] > 0:
                a = min(np.float32(alpha[y, x]) * unit, one)
                cx = (x * sw) // w
                for c in range(3):
                    lin[y, x, c] += a * (colour[cy, cx, c] - lin[y, x, c])
