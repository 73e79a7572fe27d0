"""Control frames (edge, depth, seg, vis) and CARLA's sensor encodings."""
from __future__ import annotations

import numpy as np
import pytest

from sdg.augment.controls import (
    DEPTH_STEP_M,
    carla_rgb_to_depth,
    carla_to_instance,
    depth_frames,
    depth_to_carla_rgb,
    edge_frames,
    instance_to_carla,
    label_boundaries,
    make_controls,
    normals_to_rgb,
    rgb_to_normals,
    seg_frames,
    vis_frames,
)
from sdg.tags import PALETTE, TAG


# ------------------------------------------------------------------------------------------------ CARLA encodings
def test_depth_encoding_within_one_24bit_step_incl_beyond_65m():
    d = np.array([0.5, 65.6, 300.0, 999.0, 65.535, 65.536, 1000.0, 0.0], dtype=np.float32)
    back = carla_rgb_to_depth(depth_to_carla_rgb(d))
    assert back.dtype == np.float32
    assert np.all(np.abs(back.astype(np.float64) - d) <= DEPTH_STEP_M)
    # beyond 65.5 m the values stay distinct and ordered (a uint16 millimetre encoding would wrap here)
    assert back[2] > back[1] > back[5] > back[4]


def test_depth_encoding_known_codes_and_exact_code_round_trip():
    rgb = depth_to_carla_rgb(np.array([0.0, 1000.0]))
    assert rgb.tolist() == [[0, 0, 0], [255, 255, 255]]
    one = carla_rgb_to_depth(np.array([1, 0, 0], np.uint8), dtype=np.float64)
    assert one == pytest.approx(1000.0 / (256**3 - 1), rel=1e-12)
    g = carla_rgb_to_depth(np.array([0, 1, 0], np.uint8), dtype=np.float64)
    assert g == pytest.approx(256 * 1000.0 / (256**3 - 1), rel=1e-12)
    codes = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    assert np.array_equal(depth_to_carla_rgb(carla_rgb_to_depth(codes, dtype=np.float64)), codes)


def test_depth_encoding_rejects_nan_and_wrong_input():
    with pytest.raises(ValueError, match="NaN"):
        depth_to_carla_rgb(np.array([np.nan]))
    with pytest.raises(ValueError, match="uint8"):
        carla_rgb_to_depth(np.zeros((2, 2, 3), np.uint16))


def test_instance_encoding_round_trip_and_known_value():
    rng = np.random.default_rng(1)
    tags = rng.integers(0, 29, size=(32, 48), dtype=np.uint8)
    ids = rng.integers(0, 65536, size=(32, 48)).astype(np.uint32)
    rgb = instance_to_carla(tags, ids)
    t2, i2 = carla_to_instance(rgb)
    assert np.array_equal(t2, tags) and np.array_equal(i2.astype(np.uint32), ids)
    # actor 968 on a car: R = 14, G = 968 & 255 = 200, B = 968 >> 8 = 3
    assert instance_to_carla(np.array([14]), np.array([968])).tolist() == [[14, 200, 3]]
    with pytest.raises(ValueError, match="65535"):
        instance_to_carla(np.array([14]), np.array([70000]))


def test_normals_encoding_round_trips():
    codes = np.stack(np.meshgrid(np.arange(256), np.arange(256), [0, 128, 255], indexing="ij"), -1)
    codes = codes.reshape(-1, 3).astype(np.uint8)
    assert np.array_equal(normals_to_rgb(rgb_to_normals(codes)), codes)
    n = np.random.default_rng(2).normal(size=(1000, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    back = rgb_to_normals(normals_to_rgb(n))
    assert np.abs(back - n).max() <= 1.0 / 255.0 + 1e-6
    assert normals_to_rgb(np.array([[0.0, 0.0, -1.0]])).tolist() == [[128, 128, 0]]


# ------------------------------------------------------------------------------------------------ controls
def test_seg_frames_use_carla_palette():
    sem = np.array([[[1, 14, 11], [24, 0, 28]]], dtype=np.uint8)
    out = seg_frames(sem)
    assert out.shape == (1, 2, 3, 3) and out.dtype == np.uint8
    assert out[0, 0, 0].tolist() == [128, 64, 128]  # road: the colour the old workflow got wrong
    assert np.array_equal(out[0], PALETTE[sem[0]])
    with pytest.raises(ValueError, match="tag 40"):
        seg_frames(np.full((1, 2, 2), 40, np.uint8))


def test_depth_frames_inverse_depth_from_float_metres():
    depth = np.array([[[2.0, 4.0, 70.0, 80.0, 1000.0]]], dtype=np.float32)
    out = depth_frames(depth, near=2.0, far=1000.0)
    assert out.shape == (1, 1, 5, 3) and out.dtype == np.uint8
    g = out[0, 0, :, 0].astype(int)
    expect = (1 / depth[0, 0] - 1 / 1000.0) / (1 / 2.0 - 1 / 1000.0) * 255
    assert np.abs(g - expect).max() <= 0.5 + 1e-6
    assert g[0] == 255 and g[-1] == 0
    assert g[2] > g[3]  # 70 m and 80 m stay distinct and ordered (uint16 mm would have overflowed)
    # per-clip normalisation: defaults come from the clip itself, nearer is brighter
    auto = depth_frames(np.linspace(3, 300, 40, dtype=np.float32).reshape(1, 4, 10))[0, ..., 0].ravel()
    assert np.all(np.diff(auto.astype(int)) <= 0) and auto[0] == 255 and auto[-1] == 0
    with pytest.raises(ValueError, match="float metres"):
        depth_frames(np.zeros((1, 2, 2), np.uint16))


def _two_cars():
    """Sky with a noisy texture on the left, grey road on the right carrying two touching cars of one colour."""
    h, w = 40, 80
    rng = np.random.default_rng(3)
    rgb = np.full((1, h, w, 3), 100, np.uint8)
    sem = np.full((1, h, w), TAG["road"], np.uint8)
    sem[0, :, :30] = TAG["sky"]
    rgb[0, :, :30] = rng.integers(0, 256, size=(h, 30, 1), dtype=np.uint8)  # strong texture
    inst = np.zeros((1, h, w), np.uint32)
    sem[0, 10:30, 40:55] = TAG["car"]
    inst[0, 10:30, 40:55] = 1
    sem[0, 10:30, 55:70] = TAG["car"]
    inst[0, 10:30, 55:70] = 2
    rgb[0, 10:30, 40:70] = 180  # both cars one flat colour: no image edge between them
    return rgb, sem, inst


def test_edges_include_instance_boundaries_and_skip_filtered_texture():
    rgb, sem, inst = _two_cars()
    e = edge_frames(rgb, sem, instance=inst)
    assert e.shape == rgb.shape and e.dtype == np.uint8
    assert set(np.unique(e).tolist()) <= {0, 255}
    m = e[0, ..., 0] > 0
    assert np.all(m[10:30, 54]) and np.all(m[10:30, 55])  # car 1 | car 2: no contrast, still an edge
    assert np.all(m[10:30, 40]) and np.all(m[10, 40:70]) and np.all(m[29, 40:70])  # outer outline
    assert not m[2:38, 2:27].any()  # sky texture interior (filtered class): no edges
    assert not m[14:26, 44:51].any() and not m[0:8, 40:78].any()  # flat interiors
    # the same texture is full of edges when nothing is filtered: the filter is what removes them
    unfiltered = edge_frames(rgb, sem, filter_classes=(), instance=inst)[0, ..., 0] > 0
    assert unfiltered[2:38, 2:27].mean() > 0.2
    # without the instance map the car | car boundary is not there (same class, same colour)
    no_inst = edge_frames(rgb, sem)[0, ..., 0] > 0
    assert not no_inst[12:28, 54:56].any()


def test_edge_filter_class_names_and_errors():
    rgb, sem, inst = _two_cars()
    by_name = edge_frames(rgb, sem, filter_classes=["sky"])
    by_id = edge_frames(rgb, sem, filter_classes=[TAG["sky"]])
    assert np.array_equal(by_name, by_id)
    with pytest.raises(ValueError, match="not a CARLA tag name"):
        edge_frames(rgb, sem, filter_classes=["clouds"])
    with pytest.raises(ValueError, match="semantic"):
        edge_frames(rgb, sem[:, :10])


def test_label_boundaries_marks_both_sides():
    lab = np.zeros((5, 6), np.int32)
    lab[1:4, 2:4] = 7
    b = label_boundaries(lab)
    assert b[1:4, 2:4].all()  # a 2-wide object: every pixel touches the outside
    assert b[2, 1] and b[2, 4] and b[0, 2] and b[4, 3]
    assert not b[2, 0] and not b[0, 0]


def test_make_controls_and_vis():
    rgb, sem, inst = _two_cars()
    depth = np.full(sem.shape, 10.0, np.float32)
    c = make_controls(rgb, depth, sem, ["edge", "depth", "seg", "vis"], instance=inst)
    assert set(c) == {"edge", "depth", "seg", "vis"}
    for v in c.values():
        assert v.shape == rgb.shape and v.dtype == np.uint8
    assert np.array_equal(c["seg"], seg_frames(sem))
    # vis is a blur: the noisy sky loses variance, flat regions stay flat
    assert c["vis"][0, 5:35, 5:25].std() < rgb[0, 5:35, 5:25].std() / 3
    assert np.array_equal(vis_frames(rgb, sigma=0), rgb)
    with pytest.raises(ValueError, match="unknown control"):
        make_controls(rgb, depth, sem, ["normals"])
