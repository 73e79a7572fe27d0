"""numba kernels of the CPU renderer: ray/primitive intersection, screen rectangles, and the per-row
rasterise + shadow + shade loop.

Conventions
- A primitive lives in its own local frame: centre at the origin, axes = columns of its local->world rotation.
  Kinds: KIND_BOX (half extents hx, hy, hz), KIND_CYLINDER (axis = local z, elliptic cross-section with semi-axes
  hx, hy, half height hz), KIND_ELLIPSOID (semi-axes hx, hy, hz). All ray tests are exact (analytic).
- The ray through the centre of pixel (u, v) is  o + t * d(u, v)  with  d = d0 + (u + 0.5) du + (v + 0.5) dv,
  an UNNORMALISED world direction whose OpenCV-camera z component is 1. Hence the ray parameter t of a hit IS its
  planar depth in metres (camera z), exactly what the depth sensor stores.
- Everything is float64; no infinities are used (BIG stands for "no hit"), so fastmath is safe.

Why this is one long module (kept over the 600-line limit on purpose): it is one kernel, `_render_row` (~310 lines,
driven by `render_rows`), plus the helpers numba inlines into it (`intersect`, `normal_local`, `_row_span`,
`_material` and its noise/hash helpers, all `inline="always"`) and the silhouette kernels, whose hit test must stay
expression for expression that of `_render_row` (they share `intersect` and `_row_span`). Every function is compiled
with `cache=True`, and numba's on-disk cache only invalidates a function when ITS OWN source file changes: a helper
or a constant (globals are frozen into the machine code at compile time) imported from another module could be
edited without the cached kernels noticing, silently rendering with stale code. Keeping the kernels, the helpers
they call and the constants they read in this one file makes every edit recompile all of them. Only the entry
points called from Python alone (`screen_hulls` with `_convex_hull`, `prepare_primitives`) could move out safely,
but `screen_hulls` produces the hull layout (`HULL_MAX`) that `_row_span` reads, so they stay next to it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

KIND_BOX = 0
KIND_CYLINDER = 1
KIND_ELLIPSOID = 2

# Materials (how a primitive's albedo varies over its surface; see _material)
MAT_PLAIN = 0
MAT_PAINT = 1  # car paint with a dark sill band at the bottom (param[0] = band height fraction), specular
MAT_CABIN = 2  # glass cabin with body-coloured frame/pillars/roof (param[0] = frame width m)
MAT_GLASS = 3
MAT_BUILDING = 4  # walls with a window grid on vertical faces (param: floor height, window spacing, seed)
MAT_BUS = 5  # bus body: window band on the sides, windscreen at the front (param: band z0, z1 fractions)
MAT_FOLIAGE = 6
MAT_EMISSIVE = 7  # unshaded (lit traffic-light lamps)
MAT_LAMP = 8  # head/tail lights by day: shaded plus a little glow
MAT_WHEEL = 9  # tyre with a lighter hub on the cylinder caps
MAT_SIGN = 10  # sign plate: white border on the faces normal to local x (param[0] = border width m)
MAT_CARGO = 11  # truck cargo box: vertical ribs (param[0] = rib spacing m)

BIG = 1.0e30
NEAR = 1.0e-2  # metres of planar depth: nothing closer is drawn
SKY_DEPTH = 1000.0  # keep in sync with sdg.geometry.SKY_DEPTH (checked in renderer.py)
SKY_TAG = 11
_EPS = 1.0e-12

_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast math without assuming away inf/nan handling


@njit(cache=True, fastmath=_FM, inline="always")
def _slab(o, d, h, t0, t1):
    """Clip the parameter interval (t0, t1) of the line o + t d to the slab |o + t d| <= h (one axis).
    An empty result (t0 > t1) means a miss; (1, -1) when the line runs parallel to the slab outside it."""
    if abs(d) < _EPS:
        if abs(o) > h:
            return 1.0, -1.0
        return t0, t1
    ta = (-h - o) / d
    tb = (h - o) / d
    if ta > tb:
        ta, tb = tb, ta
    if ta > t0:
        t0 = ta
    if tb < t1:
        t1 = tb
    return t0, t1


@njit(cache=True, fastmath=_FM, inline="always")
def intersect(kind, hx, hy, hz, ox, oy, oz, dx, dy, dz):
    """Entry and exit parameters (t0, t1) of the line o + t d with a primitive in its local frame.
    t0 > t1 means no intersection. Units: those of o and d (t multiplies d)."""
    t0 = -BIG
    t1 = BIG
    if kind == KIND_ELLIPSOID:
        px = ox / hx
        py = oy / hy
        pz = oz / hz
        qx = dx / hx
        qy = dy / hy
        qz = dz / hz
        a = qx * qx + qy * qy + qz * qz
        b = px * qx + py * qy + pz * qz
        c = px * px + py * py + pz * pz - 1.0
        disc = b * b - a * c
        if disc < 0.0 or a < _EPS:
            return 1.0, -1.0
        s = math.sqrt(disc)
        return (-b - s) / a, (-b + s) / a
    if kind == KIND_CYLINDER:
        px = ox / hx
        py = oy / hy
        qx = dx / hx
        qy = dy / hy
        a = qx * qx + qy * qy
        b = px * qx + py * qy
        c = px * px + py * py - 1.0
        if a < _EPS:
            if c > 0.0:
                return 1.0, -1.0
        else:
            disc = b * b - a * c
            if disc < 0.0:
                return 1.0, -1.0
            s = math.sqrt(disc)
            t0 = (-b - s) / a
            t1 = (-b + s) / a
    else:
        # box: x and y slabs (z slab shared with the cylinder below)
        t0, t1 = _slab(ox, dx, hx, t0, t1)
        t0, t1 = _slab(oy, dy, hy, t0, t1)
    return _slab(oz, dz, hz, t0, t1)


@njit(cache=True, fastmath=_FM, inline="always")
def normal_local(kind, hx, hy, hz, x, y, z):
    """Outward unit normal, in the primitive's local frame, at surface point (x, y, z) (local frame)."""
    if kind == KIND_BOX:
        ax = abs(x) / hx
        ay = abs(y) / hy
        az = abs(z) / hz
        if ax >= ay and ax >= az:
            return (1.0 if x >= 0 else -1.0), 0.0, 0.0
        if ay >= az:
            return 0.0, (1.0 if y >= 0 else -1.0), 0.0
        return 0.0, 0.0, (1.0 if z >= 0 else -1.0)
    if kind == KIND_CYLINDER:
        r = math.sqrt((x / hx) ** 2 + (y / hy) ** 2)
        if abs(z) / hz >= r:
            return 0.0, 0.0, (1.0 if z >= 0 else -1.0)
        nx = x / (hx * hx)
        ny = y / (hy * hy)
        n = math.sqrt(nx * nx + ny * ny) + 1e-30
        return nx / n, ny / n, 0.0
    nx = x / (hx * hx)
    ny = y / (hy * hy)
    nz = z / (hz * hz)
    n = math.sqrt(nx * nx + ny * ny + nz * nz) + 1e-30
    return nx / n, ny / n, nz / n


HULL_MAX = 40  # vertices kept per screen hull
_HULL_MIN_WIDTH = 48  # pixels: narrower rectangles are scanned whole (the per-row hull span would not pay off)


@njit(cache=True)
def _convex_hull(xs, ys, n, out):
    """Andrew's monotone chain over the first n points; writes the hull (counter-clockwise in image axes) to
    out[:, 0:2] and returns its vertex count (0 if it would not fit)."""
    order = np.argsort(xs[:n] + ys[:n] * 1e-9)
    hx = np.empty(2 * n + 1)
    hy = np.empty(2 * n + 1)
    k = 0
    for i in range(n):
        j = order[i]
        while k >= 2 and ((hx[k - 1] - hx[k - 2]) * (ys[j] - hy[k - 2])
                          - (hy[k - 1] - hy[k - 2]) * (xs[j] - hx[k - 2])) <= 0.0:
            k -= 1
        hx[k] = xs[j]
        hy[k] = ys[j]
        k += 1
    lower = k + 1
    for i in range(n - 2, -1, -1):
        j = order[i]
        while k >= lower and ((hx[k - 1] - hx[k - 2]) * (ys[j] - hy[k - 2])
                              - (hy[k - 1] - hy[k - 2]) * (xs[j] - hx[k - 2])) <= 0.0:
            k -= 1
        hx[k] = xs[j]
        hy[k] = ys[j]
        k += 1
    k -= 1  # the last point repeats the first
    if k < 3 or k > out.shape[0]:
        return 0
    for i in range(k):
        out[i, 0] = hx[i]
        out[i, 1] = hy[i]
    return k


@njit(cache=True)
def screen_hulls(points_cam, focal, cx, cy, near):
    """Conservative screen footprints of convex point sets. points_cam (N, M, 3) in the OpenCV camera frame; the
    region of interest is the convex hull of each set clipped to z >= near (segments between every pair of points
    cover all hull edges, so near-plane clipping stays exact-or-larger).

    Returns rect (N, 4) int64 (u0, v0, u1, v1) absolute pixel indices, exclusive ends, one pixel of margin
    (u1 <= u0: empty), for wide footprints the projected convex hull (N, HULL_MAX, 2) with its vertex count
    (N,) (0 = scan the whole rectangle) so that kernels can scan only the hull's span on each row, and the
    planar depth range (N, 2) of the clipped set (an early-z bound)."""
    n, m = points_cam.shape[0], points_cam.shape[1]
    rect = np.zeros((n, 4), dtype=np.int64)
    hull = np.zeros((n, HULL_MAX, 2))
    hcount = np.zeros(n, dtype=np.int64)
    zr = np.zeros((n, 2))
    lim = 1.0e7
    xs = np.empty(m + m * (m - 1) // 2)
    ys = np.empty(m + m * (m - 1) // 2)
    for i in range(n):
        cnt = 0
        any_back = False
        zmin = 1.0e30
        zmax = near
        for a in range(m):
            z = points_cam[i, a, 2]
            if z >= near:
                zmin = min(zmin, z)
                zmax = max(zmax, z)
                xs[cnt] = focal * points_cam[i, a, 0] / z + cx
                ys[cnt] = focal * points_cam[i, a, 1] / z + cy
                cnt += 1
            else:
                any_back = True
        if cnt == 0:
            continue
        zr[i, 0] = near if any_back else zmin
        zr[i, 1] = zmax
        if any_back:
            for a in range(m):
                za = points_cam[i, a, 2]
                for b in range(a + 1, m):
                    zb = points_cam[i, b, 2]
                    if (za >= near) == (zb >= near):
                        continue
                    s = (near - za) / (zb - za)
                    x = points_cam[i, a, 0] + s * (points_cam[i, b, 0] - points_cam[i, a, 0])
                    y = points_cam[i, a, 1] + s * (points_cam[i, b, 1] - points_cam[i, a, 1])
                    xs[cnt] = focal * x / near + cx
                    ys[cnt] = focal * y / near + cy
                    cnt += 1
        umin = lim
        vmin = lim
        umax = -lim
        vmax = -lim
        for a in range(cnt):
            xs[a] = min(max(xs[a], -lim), lim)
            ys[a] = min(max(ys[a], -lim), lim)
            umin = min(umin, xs[a])
            umax = max(umax, xs[a])
            vmin = min(vmin, ys[a])
            vmax = max(vmax, ys[a])
        # pixel u is covered only if its centre u + 0.5 lies in [umin, umax]; keep one pixel of margin each side
        rect[i, 0] = int(math.floor(umin - 0.5))
        rect[i, 1] = int(math.floor(vmin - 0.5))
        rect[i, 2] = int(math.floor(umax - 0.5)) + 2
        rect[i, 3] = int(math.floor(vmax - 0.5)) + 2
        if umax - umin >= _HULL_MIN_WIDTH and cnt >= 3:
            hcount[i] = _convex_hull(xs, ys, cnt, hull[i])
    return rect, hull, hcount, zr


@njit(cache=True, fastmath=_FM, inline="always")
def _row_span(hull, cnt, yc, u0, u1):
    """Pixel columns [a, b) of row centre yc that may lie inside the convex polygon hull[:cnt] (one pixel of
    margin), clamped to [u0, u1)."""
    xmin = 1.0e30
    xmax = -1.0e30
    for e in range(cnt):
        xa = hull[e, 0]
        ya = hull[e, 1]
        f = e + 1 if e + 1 < cnt else 0
        xb = hull[f, 0]
        yb = hull[f, 1]
        if (ya <= yc <= yb) or (yb <= yc <= ya):
            if ya == yb:
                x0 = min(xa, xb)
                x1 = max(xa, xb)
            else:
                x0 = xa + (yc - ya) * (xb - xa) / (yb - ya)
                x1 = x0
            xmin = min(xmin, x0)
            xmax = max(xmax, x1)
    if xmin > xmax:
        return u0, u0
    a = int(math.floor(xmin - 0.5))
    b = int(math.floor(xmax - 0.5)) + 2
    return max(a, u0), min(b, u1)


@njit(cache=True, inline="always")
def _hash01(ix, iy, seed):
    """Deterministic hash of integer lattice coordinates -> [0, 1)."""
    h = (ix * 374761393 + iy * 668265263 + seed * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = h ^ (h >> 16)
    return h / 4294967296.0


@njit(cache=True, fastmath=_FM, inline="always")
def _value_noise(x, y, seed):
    """Smooth value noise in [0, 1) with unit lattice spacing."""
    fx = math.floor(x)
    fy = math.floor(y)
    ix = int(fx)
    iy = int(fy)
    sx = x - fx
    sy = y - fy
    sx = sx * sx * (3.0 - 2.0 * sx)
    sy = sy * sy * (3.0 - 2.0 * sy)
    a = _hash01(ix, iy, seed)
    b = _hash01(ix + 1, iy, seed)
    c = _hash01(ix, iy + 1, seed)
    d = _hash01(ix + 1, iy + 1, seed)
    return (a + (b - a) * sx) + ((c + (d - c) * sx) - (a + (b - a) * sx)) * sy


@njit(cache=True, fastmath=_FM, inline="always")
def _frac(x):
    return x - math.floor(x)


@njit(cache=True, fastmath=_FM, inline="always")
def _material(mat, kind, hx, hy, hz, x, y, z, nx, ny, nz, cr, cg, cb, p0, p1, p2, p3):
    """Albedo at a local surface point. Returns (r, g, b, spec, glass, emissive): colour 0..1, specular strength,
    glass flag (reflects the sky), emissive flag (not shaded)."""
    if mat == MAT_PAINT:
        if z < -hz + 2.0 * hz * p0:
            return 0.11, 0.11, 0.12, 0.05, 0, 0
        return cr, cg, cb, 0.45, 0, 0
    if mat == MAT_CABIN:
        if nz > 0.5:
            return cr, cg, cb, 0.45, 0, 0
        fw = p0
        if abs(nx) > 0.5:  # windscreen / rear window
            if abs(y) > hy - fw or z > hz - fw or z < -hz + 0.6 * fw:
                return cr, cg, cb, 0.45, 0, 0
            return 0.06, 0.07, 0.08, 0.6, 1, 0
        if abs(ny) > 0.5:  # side windows with a B pillar
            if abs(x) > hx - fw or z > hz - fw or z < -hz + 0.6 * fw or abs(x - p1) < 0.6 * fw:
                return cr, cg, cb, 0.45, 0, 0
            return 0.06, 0.07, 0.08, 0.6, 1, 0
        return cr, cg, cb, 0.45, 0, 0
    if mat == MAT_GLASS:
        return 0.06, 0.07, 0.08, 0.6, 1, 0
    if mat == MAT_BUILDING:
        if abs(nz) > 0.5:  # roof
            return cr * 0.8, cg * 0.8, cb * 0.8, 0.0, 0, 0
        floor_h = p0
        spacing = p1
        if abs(nx) > 0.5:
            s = y + hy
            span = 2.0 * hy
        else:
            s = x + hx
            span = 2.0 * hx
        h = z + hz
        if h < 0.35:  # plinth
            return cr * 0.6, cg * 0.6, cb * 0.6, 0.0, 0, 0
        if h > 2.0 * hz - 0.6 or s < 0.6 or s > span - 0.6:
            return cr, cg, cb, 0.0, 0, 0
        # centre the window columns on the face
        ncol = max(1.0, math.floor((span - 1.2) / spacing))
        off = 0.5 * (span - ncol * spacing)
        col = (s - off) / spacing
        if col < 0.0 or col >= ncol:
            return cr, cg, cb, 0.0, 0, 0
        row = h / floor_h
        fr = _frac(row)
        fc = _frac(col)
        ground = row < 1.0
        if ground:
            inwin = fr > 0.12 and fr < 0.8 and fc > 0.08 and fc < 0.92
        else:
            inwin = fr > 0.3 and fr < 0.82 and fc > 0.22 and fc < 0.78
        if not inwin:
            return cr, cg, cb, 0.0, 0, 0
        sd = int(p2)
        hsh = _hash01(int(math.floor(col)), int(math.floor(row)) + 7 * (1 if abs(nx) > 0.5 else 2), sd)
        g = 0.05 + 0.10 * hsh
        if hsh > 0.85:  # curtains / lit room
            return 0.42, 0.38, 0.3, 0.1, 0, 0
        return g, g * 1.1, g * 1.25, 0.5, 1, 0
    if mat == MAT_BUS:
        h = (z + hz) / (2.0 * hz)
        if h < 0.12:
            return 0.12, 0.12, 0.13, 0.05, 0, 0
        if abs(ny) > 0.5:
            if h > p0 and h < p1:
                xx = x + hx
                if xx < 0.3 or xx > 2.0 * hx - 0.3 or _frac(xx / 1.35) < 0.07:
                    return 0.15, 0.15, 0.16, 0.3, 0, 0
                return 0.06, 0.07, 0.08, 0.6, 1, 0
            return cr, cg, cb, 0.45, 0, 0
        if nx > 0.5:
            if h > 0.42 and h < 0.93 and abs(y) < hy - 0.12:
                return 0.06, 0.07, 0.08, 0.6, 1, 0
            return cr, cg, cb, 0.45, 0, 0
        if nx < -0.5:
            if h > 0.6 and h < 0.9 and abs(y) < hy - 0.2:
                return 0.06, 0.07, 0.08, 0.6, 1, 0
            return cr, cg, cb, 0.45, 0, 0
        return cr * 0.85, cg * 0.85, cb * 0.85, 0.1, 0, 0
    if mat == MAT_FOLIAGE:
        n1 = _value_noise(x * 1.7 + 11.0 * p0, y * 1.7 + z * 1.3, 5)
        n2 = _value_noise(x * 6.0 + z * 4.0, y * 6.0 - z * 3.0, 9)
        k = 0.7 + 0.35 * n1 + 0.2 * n2
        return cr * k, cg * k, cb * k, 0.0, 0, 0
    if mat == MAT_EMISSIVE:
        return cr, cg, cb, 0.0, 0, 1
    if mat == MAT_LAMP:
        return cr, cg, cb, 0.8, 0, 2
    if mat == MAT_WHEEL:
        if abs(nz) > 0.5 and (x / hx) ** 2 + (y / hy) ** 2 < 0.36:
            return 0.55, 0.56, 0.58, 0.6, 0, 0
        return 0.07, 0.07, 0.075, 0.05, 0, 0
    if mat == MAT_SIGN:
        if abs(nx) > 0.5:
            if nx < 0.0:
                return 0.55, 0.55, 0.57, 0.1, 0, 0
            if abs(y) > hy - p0 or abs(z) > hz - p0:
                return 0.92, 0.92, 0.92, 0.1, 0, 0
        return cr, cg, cb, 0.1, 0, 0
    if mat == MAT_CARGO:
        if abs(nz) < 0.5 and p0 > 0.0:
            s = x if abs(ny) > 0.5 else y
            if _frac(s / p0) < 0.06:
                return cr * 0.78, cg * 0.78, cb * 0.78, 0.1, 0, 0
        return cr, cg, cb, 0.15, 0, 0
    return cr, cg, cb, 0.0, 0, 0


@njit(cache=True, fastmath=_FM)
def prepare_primitives(center, rot, cam_o, d0, du, dv, sun_travel):
    """Per-primitive constants of the current camera: local camera origin, the local versions of d0/du/dv
    (so d_local(u, v) = a + (u + .5) bu + (v + .5) bv) and the local direction towards the sun.
    Returns (N, 5, 3): [o_local, a, bu, bv, to_sun_local]."""
    n = center.shape[0]
    out = np.empty((n, 5, 3))
    for i in range(n):
        r = rot[i]
        for k in range(3):
            # local = R^T world  ->  component k = column k of R dotted with the world vector
            out[i, 0, k] = (r[0, k] * (cam_o[0] - center[i, 0]) + r[1, k] * (cam_o[1] - center[i, 1])
                            + r[2, k] * (cam_o[2] - center[i, 2]))
            out[i, 1, k] = r[0, k] * d0[0] + r[1, k] * d0[1] + r[2, k] * d0[2]
            out[i, 2, k] = r[0, k] * du[0] + r[1, k] * du[1] + r[2, k] * du[2]
            out[i, 3, k] = r[0, k] * dv[0] + r[1, k] * dv[1] + r[2, k] * dv[2]
            out[i, 4, k] = -(r[0, k] * sun_travel[0] + r[1, k] * sun_travel[1] + r[2, k] * sun_travel[2])
    return out


@njit(cache=True, fastmath=_FM)
def _render_row(
    j, ru0, rv0, width,
    cam_o, d0, du, dv, w2c,
    kind, half, rot, color, mat, tag, inst, param, ao,
    local, rect, hull, hcount, zr, srect, shull, shcount, szr,
    g_tags, g_alb, g_x0, g_y0, g_res, g_out_tag, g_out_alb, use_ground,
    sun_travel, sun_on, sky, shade,
    out_rgb, out_depth, out_sem, out_inst, out_norm,
):
    """One row j (region-relative) of render_rows; see there."""
    n = kind.shape[0]
    gny = g_tags.shape[0]
    gnx = g_tags.shape[1]
    # sky colours: zenith a little deeper than `sky`, horizon whitened
    zen_r = sky[0] * 0.82
    zen_g = sky[1] * 0.88
    zen_b = sky[2] * 0.97
    hor_r = sky[0] + (0.93 - sky[0]) * 0.55
    hor_g = sky[1] + (0.95 - sky[1]) * 0.55
    hor_b = sky[2] + (0.97 - sky[2]) * 0.55
    lx = -sun_travel[0]
    ly = -sun_travel[1]
    lz = -sun_travel[2]
    pix_ang = math.sqrt(du[0] * du[0] + du[1] * du[1] + du[2] * du[2])  # metres per pixel at planar depth 1
    v = rv0 + j
    vc = v + 0.5
    zrow = np.empty(width)
    prow = np.empty(width, dtype=np.int32)
    # ---- (1a) ground / sky initialisation
    rdx = d0[0] + vc * dv[0]
    rdy = d0[1] + vc * dv[1]
    rdz = d0[2] + vc * dv[2]
    for x in range(width):
        uc = ru0 + x + 0.5
        dz = rdz + uc * du[2]
        zrow[x] = BIG
        prow[x] = -2
        if use_ground and dz < -1e-12:
            tg = -cam_o[2] / dz
            if tg > NEAR and tg <= SKY_DEPTH:
                zrow[x] = tg
                prow[x] = -1
    # ---- (1b) primitives
    for p in range(n):
        if v < rect[p, 1] or v >= rect[p, 3]:
            continue
        ua = max(rect[p, 0], ru0)
        ub = min(rect[p, 2], ru0 + width)
        if hcount[p] > 0:
            ua, ub = _row_span(hull[p], hcount[p], vc, ua, ub)
        if ua >= ub:
            continue
        k = kind[p]
        hx = half[p, 0]
        hy = half[p, 1]
        hz = half[p, 2]
        ox = local[p, 0, 0]
        oy = local[p, 0, 1]
        oz = local[p, 0, 2]
        bx = local[p, 1, 0] + vc * local[p, 3, 0]
        by = local[p, 1, 1] + vc * local[p, 3, 1]
        bz = local[p, 1, 2] + vc * local[p, 3, 2]
        ex = local[p, 2, 0]
        ey = local[p, 2, 1]
        ez = local[p, 2, 2]
        znear = zr[p, 0]
        for u in range(ua, ub):
            x = u - ru0
            if zrow[x] <= znear:  # early z: something nearer than all of p is already there
                continue
            uc = u + 0.5
            t0, t1 = intersect(k, hx, hy, hz, ox, oy, oz, bx + uc * ex, by + uc * ey, bz + uc * ez)
            if t0 <= t1 and t0 > NEAR and t0 < zrow[x]:
                zrow[x] = t0
                prow[x] = p
    if not shade:
        for x in range(width):
            q = prow[x]
            if q == -2:
                out_depth[j, x] = SKY_DEPTH
                out_sem[j, x] = SKY_TAG
                out_inst[j, x] = 0
            elif q == -1:
                out_depth[j, x] = zrow[x]
                out_sem[j, x] = 0
                out_inst[j, x] = 0
            else:
                out_depth[j, x] = zrow[x]
                out_sem[j, x] = tag[q]
                out_inst[j, x] = inst[q]
        return
    # ---- (2) shadows (direct light factor) and ambient occlusion
    lrow = np.ones(width)
    arow = np.ones(width)
    for p in range(n):
        if v < srect[p, 1] or v >= srect[p, 3]:
            continue
        ua = max(srect[p, 0], ru0)
        ub = min(srect[p, 2], ru0 + width)
        if shcount[p] > 0:
            ua, ub = _row_span(shull[p], shcount[p], vc, ua, ub)
        if ua >= ub:
            continue
        k = kind[p]
        hx = half[p, 0]
        hy = half[p, 1]
        hz = half[p, 2]
        ox = local[p, 0, 0]
        oy = local[p, 0, 1]
        oz = local[p, 0, 2]
        bx = local[p, 1, 0] + vc * local[p, 3, 0]
        by = local[p, 1, 1] + vc * local[p, 3, 1]
        bz = local[p, 1, 2] + vc * local[p, 3, 2]
        ex = local[p, 2, 0]
        ey = local[p, 2, 1]
        ez = local[p, 2, 2]
        sx = local[p, 4, 0]
        sy = local[p, 4, 1]
        sz = local[p, 4, 2]
        aok = ao[p]
        z0s = szr[p, 0]
        z1s = szr[p, 1]
        for u in range(ua, ub):
            x = u - ru0
            q = prow[x]
            t = zrow[x]
            if q == -2 or q == p or t < z0s or t > z1s:  # sky, itself, or outside its shadow volume's depth
                continue
            uc = u + 0.5
            # hit point in p's local frame
            px = ox + t * (bx + uc * ex)
            py = oy + t * (by + uc * ey)
            pz = oz + t * (bz + uc * ez)
            if sun_on:
                s0, s1 = intersect(k, hx, hy, hz, px, py, pz, sx, sy, sz)
                if s0 <= s1 and s0 > 1e-4:
                    cov = (s1 - s0) / (0.015 + 0.035 * s0)
                    if cov > 1.0:
                        cov = 1.0
                    if 1.0 - cov < lrow[x]:
                        lrow[x] = 1.0 - cov
            if aok > 0.0 and q == -1:
                # soft contact darkening around the footprint of a low box (distance in its local xy)
                ddx = abs(px) - hx
                ddy = abs(py) - hy
                if ddx < 0.0:
                    ddx = 0.0
                if ddy < 0.0:
                    ddy = 0.0
                dist = math.sqrt(ddx * ddx + ddy * ddy)
                if dist < 0.8:
                    w = 1.0 - dist / 0.8
                    f = 1.0 - aok * w * w
                    if f < arow[x]:
                        arow[x] = f
    # ---- (3) shading and sensor outputs
    for x in range(width):
        q = prow[x]
        uc = ru0 + x + 0.5
        dxw = rdx + uc * du[0]
        dyw = rdy + uc * du[1]
        dzw = rdz + uc * du[2]
        dn = math.sqrt(dxw * dxw + dyw * dyw + dzw * dzw)
        if q == -2:
            out_depth[j, x] = SKY_DEPTH
            out_sem[j, x] = SKY_TAG
            out_inst[j, x] = 0
            out_norm[j, x, 0] = 0.0
            out_norm[j, x, 1] = 0.0
            out_norm[j, x, 2] = 0.0
            e = dzw / dn
            if e < 0.0:
                e = 0.0
            m = math.sqrt(e)
            r = hor_r + (zen_r - hor_r) * m
            g = hor_g + (zen_g - hor_g) * m
            b = hor_b + (zen_b - hor_b) * m
            if sun_on:  # a faint glow around the sun
                c = (dxw * lx + dyw * ly + dzw * lz) / dn
                if c > 0.9:
                    w = (c - 0.9) * 10.0
                    w = w * w * w * 0.6
                    r += (1.0 - r) * w
                    g += (1.0 - g) * w
                    b += (0.95 - b) * w
            out_rgb[j, x, 0] = np.uint8(min(255.0, r * 255.0 + 0.5))
            out_rgb[j, x, 1] = np.uint8(min(255.0, g * 255.0 + 0.5))
            out_rgb[j, x, 2] = np.uint8(min(255.0, b * 255.0 + 0.5))
            continue
        t = zrow[x]
        out_depth[j, x] = t
        hx_w = cam_o[0] + t * dxw
        hy_w = cam_o[1] + t * dyw
        spec = 0.0
        glass = 0
        emis = 0
        if q == -1:
            ix = int(math.floor((hx_w - g_x0) / g_res))
            iy = int(math.floor((hy_w - g_y0) / g_res))
            if ix >= 0 and ix < gnx and iy >= 0 and iy < gny:
                out_sem[j, x] = g_tags[iy, ix]
                ar = g_alb[iy, ix, 0] / 255.0
                ag = g_alb[iy, ix, 1] / 255.0
                ab = g_alb[iy, ix, 2] / 255.0
            else:
                out_sem[j, x] = g_out_tag
                ar = g_out_alb[0] / 255.0
                ag = g_out_alb[1] / 255.0
                ab = g_out_alb[2] / 255.0
            out_inst[j, x] = 0
            # texture: coarse + fine value noise; the fine octave fades out when a pixel covers > its scale
            foot = t * pix_ang / max(abs(dzw) / dn, 0.05)
            n1 = _value_noise(hx_w * 0.45, hy_w * 0.45, 3)
            k2 = 1.0 - foot / 0.12
            n2 = 0.5
            if k2 > 0.0:
                n2 = 0.5 + (_value_noise(hx_w * 7.0, hy_w * 7.0, 4) - 0.5) * min(k2, 1.0)
            tex = 0.9 + 0.13 * n1 + 0.1 * (n2 - 0.5)
            ar *= tex
            ag *= tex
            ab *= tex
            nwx = 0.0
            nwy = 0.0
            nwz = 1.0
        else:
            out_sem[j, x] = tag[q]
            out_inst[j, x] = inst[q]
            k = kind[q]
            hx = half[q, 0]
            hy = half[q, 1]
            hz = half[q, 2]
            dlx = local[q, 1, 0] + vc * local[q, 3, 0] + uc * local[q, 2, 0]
            dly = local[q, 1, 1] + vc * local[q, 3, 1] + uc * local[q, 2, 1]
            dlz = local[q, 1, 2] + vc * local[q, 3, 2] + uc * local[q, 2, 2]
            plx = local[q, 0, 0] + t * dlx
            ply = local[q, 0, 1] + t * dly
            plz = local[q, 0, 2] + t * dlz
            nlx, nly, nlz = normal_local(k, hx, hy, hz, plx, ply, plz)
            rr = rot[q]
            nwx = rr[0, 0] * nlx + rr[0, 1] * nly + rr[0, 2] * nlz
            nwy = rr[1, 0] * nlx + rr[1, 1] * nly + rr[1, 2] * nlz
            nwz = rr[2, 0] * nlx + rr[2, 1] * nly + rr[2, 2] * nlz
            ar, ag, ab, spec, glass, emis = _material(
                mat[q], k, hx, hy, hz, plx, ply, plz, nlx, nly, nlz,
                color[q, 0], color[q, 1], color[q, 2], param[q, 0], param[q, 1], param[q, 2], param[q, 3])
        # face the camera
        if nwx * dxw + nwy * dyw + nwz * dzw > 0.0:
            nwx = -nwx
            nwy = -nwy
            nwz = -nwz
        out_norm[j, x, 0] = w2c[0, 0] * nwx + w2c[0, 1] * nwy + w2c[0, 2] * nwz
        out_norm[j, x, 1] = w2c[1, 0] * nwx + w2c[1, 1] * nwy + w2c[1, 2] * nwz
        out_norm[j, x, 2] = w2c[2, 0] * nwx + w2c[2, 1] * nwy + w2c[2, 2] * nwz
        # lighting: hemispheric ambient (x contact occlusion) + sun (x soft shadow)
        amb = (0.36 + 0.12 * nwz) * arow[x]
        direct = 0.0
        if sun_on:
            ndl = nwx * lx + nwy * ly + nwz * lz
            if ndl > 0.0:
                direct = 0.78 * ndl * lrow[x]
        if emis == 1:
            r = ar
            g = ag
            b = ab
        else:
            lit = amb + direct
            r = ar * lit
            g = ag * lit
            b = ab * lit
            if emis == 2:
                r += ar * 0.35
                g += ag * 0.35
                b += ab * 0.35
            vx = -dxw / dn
            vy = -dyw / dn
            vz = -dzw / dn
            if glass == 1:
                cosv = abs(nwx * vx + nwy * vy + nwz * vz)
                fres = 0.12 + 0.55 * (1.0 - cosv) ** 3
                # reflect the sky colour seen in the mirrored direction (brighter towards the horizon)
                rz = vz - 2.0 * (nwx * vx + nwy * vy + nwz * vz) * nwz
                m = -rz
                if m < 0.0:
                    m = 0.0
                m = math.sqrt(min(m, 1.0))
                r += fres * (hor_r + (zen_r - hor_r) * m) * (0.6 + 0.4 * arow[x])
                g += fres * (hor_g + (zen_g - hor_g) * m) * (0.6 + 0.4 * arow[x])
                b += fres * (hor_b + (zen_b - hor_b) * m) * (0.6 + 0.4 * arow[x])
            if spec > 0.0 and direct > 0.0:
                hxv = lx + vx
                hyv = ly + vy
                hzv = lz + vz
                hn = math.sqrt(hxv * hxv + hyv * hyv + hzv * hzv) + 1e-30
                c = (nwx * hxv + nwy * hyv + nwz * hzv) / hn
                if c > 0.0:
                    sp = spec * c ** 48 * lrow[x]
                    r += sp
                    g += sp
                    b += sp
        # aerial perspective towards the horizon colour
        fog = t * dn * 0.0012
        fog = fog / (1.0 + fog)
        r += (hor_r - r) * fog
        g += (hor_g - g) * fog
        b += (hor_b - b) * fog
        out_rgb[j, x, 0] = np.uint8(max(0.0, min(255.0, r * 255.0 + 0.5)))
        out_rgb[j, x, 1] = np.uint8(max(0.0, min(255.0, g * 255.0 + 0.5)))
        out_rgb[j, x, 2] = np.uint8(max(0.0, min(255.0, b * 255.0 + 0.5)))


@njit(cache=True, parallel=True)
def render_rows(
    row_order, ru0, rv0, width,
    cam_o, d0, du, dv, w2c,
    kind, half, rot, color, mat, tag, inst, param, ao,
    local, rect, hull, hcount, zr, srect, shull, shcount, szr,
    g_tags, g_alb, g_x0, g_y0, g_res, g_out_tag, g_out_alb, use_ground,
    sun_travel, sun_on, sky, shade,
    out_rgb, out_depth, out_sem, out_inst, out_norm,
):
    """Render the pixel region [ru0, ru0 + width) x [rv0, rv0 + len(row_order)) (absolute pixel indices, may lie
    outside the image). Rows are processed in `row_order` (interleaved for load balance); each row is independent.

    Per row: (1) z-buffer the analytic ground plane z = 0 and every primitive whose screen rectangle covers the row;
    (2) if `shade`: soft sun shadows + ambient occlusion from the primitives whose shadow rectangle covers the row;
    (3) write depth (planar m, SKY_DEPTH for sky), semantic tag, instance id and, if `shade`, rgb and camera-frame
    normals. Without `shade` only depth/semantic/instance are written (used for silhouettes)."""
    for ii in prange(row_order.shape[0]):
        _render_row(
            row_order[ii], ru0, rv0, width,
            cam_o, d0, du, dv, w2c,
            kind, half, rot, color, mat, tag, inst, param, ao,
            local, rect, hull, hcount, zr, srect, shull, shcount, szr,
            g_tags, g_alb, g_x0, g_y0, g_res, g_out_tag, g_out_alb, use_ground,
            sun_travel, sun_on, sky, shade,
            out_rgb, out_depth, out_sem, out_inst, out_norm,
        )


# ------------------------------------------------------------------------------------------------ silhouettes
@njit(cache=True, fastmath=_FM)
def _silhouette_row(v, ru0, width, p_lo, p_hi, kind, half, local, rect, hull, hcount, out, off):
    """Row v (absolute) of one silhouette: out[off + x] = True for the pixels u = ru0 + x, x in [0, width), whose
    ray hits any of the primitives p_lo..p_hi-1 in front of the near plane. The hit test (screen rectangle, hull
    span, `intersect`, t0 > NEAR) is the one of _render_row step (1b) expression for expression, so a pixel is
    set exactly when render_rows, given only these primitives, would give it one of them."""
    vc = v + 0.5
    for p in range(p_lo, p_hi):
        if v < rect[p, 1] or v >= rect[p, 3]:
            continue
        ua = max(rect[p, 0], ru0)
        ub = min(rect[p, 2], ru0 + width)
        if hcount[p] > 0:
            ua, ub = _row_span(hull[p], hcount[p], vc, ua, ub)
        if ua >= ub:
            continue
        k = kind[p]
        hx = half[p, 0]
        hy = half[p, 1]
        hz = half[p, 2]
        ox = local[p, 0, 0]
        oy = local[p, 0, 1]
        oz = local[p, 0, 2]
        bx = local[p, 1, 0] + vc * local[p, 3, 0]
        by = local[p, 1, 1] + vc * local[p, 3, 1]
        bz = local[p, 1, 2] + vc * local[p, 3, 2]
        ex = local[p, 2, 0]
        ey = local[p, 2, 1]
        ez = local[p, 2, 2]
        for u in range(ua, ub):
            x = off + u - ru0
            if out[x]:  # already covered by another primitive of the silhouette
                continue
            uc = u + 0.5
            t0, t1 = intersect(k, hx, hy, hz, ox, oy, oz, bx + uc * ex, by + uc * ey, bz + uc * ez)
            if t0 <= t1 and t0 > NEAR and t0 < BIG:
                out[x] = True


@njit(cache=True)
def silhouette_rows(task_job, task_row, job_rect, job_off, job_prims, kind, half, local, rect, hull, hcount, out):
    """Many silhouettes in one call, serially (no thread start-up: silhouettes are mostly small).

    Job i covers the pixel rectangle job_rect[i] = (u0, v0, u1, v1) (absolute, may lie outside the image); its
    mask is out[job_off[i] : job_off[i] + (v1 - v0) * (u1 - u0)] in row-major order (zeroed by the caller), and it
    tests primitives job_prims[i, 0] .. job_prims[i, 1] - 1 (one actor's, so no other actor or prop hides it).
    Task t renders row task_row[t] (relative to v0) of job task_job[t]."""
    for t in range(task_job.shape[0]):
        i = task_job[t]
        u0 = job_rect[i, 0]
        w = job_rect[i, 2] - u0
        r = task_row[t]
        _silhouette_row(job_rect[i, 1] + r, u0, w, job_prims[i, 0], job_prims[i, 1], kind, half, local, rect, hull,
                        hcount, out, job_off[i] + r * w)


@njit(cache=True, parallel=True)
def silhouette_rows_parallel(task_job, task_row, job_rect, job_off, job_prims, kind, half, local, rect, hull,
                             hcount, out):
    """silhouette_rows with the tasks (rows) spread over the numba threads, for large total areas."""
    for t in prange(task_job.shape[0]):
        i = task_job[t]
        u0 = job_rect[i, 0]
        w = job_rect[i, 2] - u0
        r = task_row[t]
        _silhouette_row(job_rect[i, 1] + r, u0, w, job_prims[i, 0], job_prims[i, 1], kind, half, local, rect, hull,
                        hcount, out, job_off[i] + r * w)
