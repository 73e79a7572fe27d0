"""Ground truth of hand-built scenes: box actors painted into exact instance masks with the box silhouette
(painter's order, far to near), so every expected number is known without the renderer."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from sdg.geometry import Camera, box_corners
from sdg.groundtruth import (
    annotate_clip,
    assign_marks,
    box_silhouette,
    clip_mark_seed,
    index_instances,
    mask_polygons,
    project_box,
    rasterize_polygons,
    visibility_metrics,
)
from sdg.groundtruth.visibility import cap_rect, downsample_factor, silhouette_counts
from sdg.model import SensorClip
from sdg.scene import Actor, Event, GroundMap, Scene

W, H = 320, 240
FPS = 10.0


def ground() -> GroundMap:
    return GroundMap(-100.0, -100.0, 50.0, np.ones((4, 4), np.uint8), np.full((4, 4, 3), 90, np.uint8))


def camera(yaw: float = 0.0, **kw) -> Camera:
    args = dict(name="cam", width=W, height=H, fov=90.0, location=(0.0, 0.0, 2.0), rotation=(0.0, 0.0, yaw))
    args.update(kw)
    return Camera(**args)


def actor(aid: int, category: str, size, xy, yaw=0.0, T: int = 1, states=None) -> Actor:
    """A box actor standing on the ground; xy is (x, y) or a (T, 2) trajectory."""
    xy = np.broadcast_to(np.asarray(xy, dtype=np.float64), (T, 2))
    poses = np.zeros((T, 6))
    poses[:, :2] = xy
    poses[:, 5] = yaw
    size = np.asarray(size, dtype=np.float64)
    return Actor(id=aid, type_id=f"test.{category}", category=category, size=size, poses=poses,
                 box_offset=np.array([0.0, 0.0, size[2] / 2.0]), states=states)


def scene(actors, T: int = 1, events=()) -> Scene:
    return Scene(name="t", map_name="test", times=np.arange(T) / FPS, ground=ground(), actors=list(actors),
                 events=list(events))


def paint(sc: Scene, cam: Camera, frames=None) -> SensorClip:
    """Exact instance masks: each actor's box silhouette, painted far to near."""
    frames = list(range(len(sc.times))) if frames is None else list(frames)
    inst = np.zeros((len(frames), cam.height, cam.width), np.uint32)
    for t, k in enumerate(frames):
        order = sorted(sc.actors, key=lambda a: -np.linalg.norm(a.box_centers()[k] - np.asarray(cam.location)))
        for a in order:
            inst[t][box_silhouette(sc, cam, k, a.id, (0, 0, cam.width, cam.height))] = a.id
    n = len(frames)
    return SensorClip(
        rgb=np.zeros((n, cam.height, cam.width, 3), np.uint8),
        depth=np.ones((n, cam.height, cam.width), np.float32),
        semantic=np.zeros((n, cam.height, cam.width), np.uint8),
        instance=inst,
        normals=np.zeros((n, cam.height, cam.width, 3), np.float32),
        times=sc.times[frames],
        frame_indices=np.asarray(frames),
    )


def by_id(objs):
    return {o.actor_id: o for o in objs}


def mask_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


# --------------------------------------------------------------------------------------------- boxes & masks
def test_tight_box_equals_painted_mask_extents_and_counts():
    sc = scene([actor(7, "car", (4.5, 1.9, 1.5), (18.0, -3.0), yaw=25.0)])
    cam = camera()
    clip = paint(sc, cam)
    mask = clip.instance[0] == 7
    ann = annotate_clip(sc, cam, clip, box_silhouette)
    (o,) = ann.objects[0]
    assert o.bbox_2d == mask_box(mask)
    assert o.pixels == int(mask.sum()) > 500
    assert (o.visibility, o.occlusion, o.truncation) == (1.0, 0.0, 0.0)
    assert o.category == "car" and o.type_id == "test.car" and o.mark == 1 and ann.marks == {7: 1}


def test_amodal_box_within_2px_of_tight_box_when_unoccluded():
    sc = scene([actor(3, "truck", (7.0, 2.5, 3.2), (25.0, 4.0), yaw=-40.0),
                actor(4, "pedestrian", (0.6, 0.6, 1.8), (12.0, -2.0), yaw=80.0)])
    cam = camera()
    ann = annotate_clip(sc, cam, paint(sc, cam), box_silhouette)
    for o in ann.objects[0]:
        assert o.occlusion == 0.0
        assert np.max(np.abs(np.subtract(o.bbox_2d_amodal, o.bbox_2d))) <= 2.0, \
            (o.actor_id, o.bbox_2d_amodal, o.bbox_2d)


def test_pedestrian_half_hidden_behind_bus_has_occlusion_half():
    # the bus spans world y in [-2.5, 0] from depth 5 to 17, i.e. exactly the image columns left of the centre
    # column line; the pedestrian at depth 20 is centred on that line.
    ped = actor(1, "pedestrian", (0.6, 0.6, 1.8), (20.0, 0.0))
    bus = actor(2, "bus", (12.0, 2.5, 3.2), (11.0, -1.25))
    sc = scene([ped, bus])
    cam = camera()
    clip = paint(sc, cam)
    ann = by_id(annotate_clip(sc, cam, clip, box_silhouette).objects[0])
    p = ann[1]
    assert p.occlusion == pytest.approx(0.5, abs=0.05)
    assert p.visibility == pytest.approx(0.5, abs=0.05)
    assert p.truncation == 0.0
    # the tight box covers only the visible right half; the amodal box the whole pedestrian
    assert p.bbox_2d[0] == pytest.approx(W / 2, abs=0.5)
    full = box_silhouette(sc, cam, 0, 1, (0, 0, W, H))
    assert p.bbox_2d_amodal[0] == pytest.approx(mask_box(full)[0], abs=1.0)
    assert ann[2].occlusion == 0.0


def test_car_half_outside_frame_has_truncation_half():
    # a 40 deg camera turned 20 deg left: its right image border is the vertical plane y = 0, the plane of symmetry
    # of a car seen broadside (narrow fov: the perspective stretch of the outside half stays small)
    cam = camera(yaw=-20.0, fov=40.0)
    car = actor(5, "car", (4.5, 1.8, 1.5), (40.0, 0.0), yaw=90.0)
    sc = scene([car])
    (uv, _), = [cam.project(car.box_centers()[:1])]
    assert uv[0, 0] == pytest.approx(W, abs=1e-6)
    (o,) = annotate_clip(sc, cam, paint(sc, cam), box_silhouette).objects[0]
    assert o.truncation == pytest.approx(0.5, abs=0.05)
    assert o.occlusion == pytest.approx(0.0, abs=1e-9)
    assert o.visibility == pytest.approx(0.5, abs=0.05)
    assert o.bbox_2d_amodal[2] == W and o.bbox_2d[2] == W
    # the same with the silhouette capped to 300 pixels (rendered at 1/2 or 1/4 resolution, counts scaled)
    (o2,) = annotate_clip(sc, cam, paint(sc, cam), box_silhouette, max_silhouette_pixels=300).objects[0]
    assert o2.truncation == pytest.approx(o.truncation, abs=0.05) and o2.pixels == o.pixels


def test_bbox_3d_carries_the_heading_not_the_viewing_angle():
    cam = camera()
    car = actor(9, "car", (4.5, 1.9, 1.5), (20.0, 8.0), yaw=30.0)  # off-axis: viewing angle atan(8/20) = 21.8 deg
    sc = scene([car])
    (o,) = annotate_clip(sc, cam, paint(sc, cam), box_silhouette).objects[0]
    assert o.bbox_3d.rotation == [0.0, 0.0, 30.0]
    assert o.bbox_3d.center == pytest.approx([20.0, 8.0, 0.75])
    assert o.bbox_3d.size == pytest.approx([4.5, 1.9, 1.5])
    assert o.bbox_3d.center_camera == pytest.approx([8.0, 1.25, 20.0])  # OpenCV: x right, y down, z forward
    assert o.distance == pytest.approx(np.linalg.norm([20.0, 8.0, 0.75 - 2.0]))
    uv, _ = cam.project(box_corners(car.size, [20.0, 8.0, 0.75], (0.0, 0.0, 30.0)))
    assert np.allclose(o.corners_2d, uv)


def test_polygons_cover_the_mask():
    sc = scene([actor(7, "car", (4.5, 1.9, 1.5), (15.0, 2.0), yaw=35.0)])
    cam = camera()
    clip = paint(sc, cam)
    (o,) = annotate_clip(sc, cam, clip, box_silhouette).objects[0]
    mask = clip.instance[0] == 7
    back = rasterize_polygons(o.polygon, H, W)
    assert (back & mask).sum() / (back | mask).sum() > 0.9
    assert all(len(p) % 2 == 0 and len(p) >= 6 for p in o.polygon)


def test_mask_polygons_follow_pixel_edges_exactly():
    m = np.zeros((6, 7), bool)
    m[2, 3] = True
    assert mask_polygons(m, (10, 20)) == [[13.0, 22.0, 13.0, 23.0, 14.0, 23.0, 14.0, 22.0]]
    rng = np.random.default_rng(0)
    blob = np.zeros((40, 50), bool)
    for _ in range(6):
        r, c = rng.integers(5, 35), rng.integers(5, 45)
        blob[r - 4 : r + 4, c - 6 : c + 3] = True
    exact = rasterize_polygons(mask_polygons(blob, tolerance=0.0), 40, 50)
    assert np.array_equal(exact, blob)
    # two separate blobs -> two outer polygons; a hole does not add one
    two = np.zeros((20, 20), bool)
    two[2:8, 2:8] = True
    two[12:18, 12:18] = True
    two[4:6, 4:6] = False
    assert len(mask_polygons(two)) == 2


def test_index_instances_matches_per_id_masks():
    rng = np.random.default_rng(1)
    inst = rng.choice(np.array([0, 3, 5, 70000], np.uint32), size=(30, 40), p=[0.7, 0.1, 0.1, 0.1])
    idx = index_instances(inst)
    assert set(idx) == {3, 5, 70000}
    for i, p in idx.items():
        m = inst == i
        assert p.count == m.sum() and p.tight_box == mask_box(m)
        crop = np.zeros_like(m)
        crop[p.v0 : p.v1 + 1, p.u0 : p.u1 + 1] = p.crop().astype(bool)
        assert np.array_equal(crop, m)


# --------------------------------------------------------------------------------------------- marks & events
def moving_scene():
    T = 5
    a = actor(40, "car", (4.5, 1.9, 1.5), (15.0, -1.0), T=T)  # near, big: seen from frame 0
    c = actor(12, "car", (4.5, 1.9, 1.5), (30.0, 2.0), T=T)  # far, smaller: also from frame 0
    # enters the view from the right (y = 30 at depth 20 is outside the 45 deg half fov) and is seen from frame 2
    b_xy = np.stack([np.full(T, 20.0), np.array([40.0, 30.0, 16.0, 10.0, 8.0])], axis=1)
    b = actor(3, "car", (4.5, 1.9, 1.5), b_xy, yaw=-90.0, T=T)
    tiny = actor(99, "pedestrian", (0.5, 0.5, 1.0), (60.0, 0.0), T=T)  # a few pixels only, within max_distance
    ev1 = Event("collision", [3, 40], 0.2, 0.3)
    ev2 = Event("near_miss", [99, 12], 0.0, 0.05)
    return scene([a, b, c, tiny], T=T, events=[ev1, ev2])


def test_marks_are_stable_contiguous_and_in_a_seeded_random_order():
    sc = moving_scene()
    cam = camera()
    clip = paint(sc, cam)
    assert 0 < (clip.instance[0] == 99).sum() < 16
    ann = annotate_clip(sc, cam, clip, box_silhouette)
    assert set(ann.marks) == {40, 12, 3}  # seen with enough pixels; 99 never is
    assert ann.marks == assign_marks({40: (0, 1), 12: (0, 1), 3: (2, 1)}, seed=clip_mark_seed(sc, cam, clip))
    orders = {tuple(sorted(annotate_clip(sc, cam, clip, box_silhouette, mark_seed=s).marks.items()))
              for s in range(12)}
    assert len(orders) > 3  # the order depends on the seed only, not on appearance or size
    assert sorted(ann.marks.values()) == list(range(1, len(ann.marks) + 1))
    for t, objs in enumerate(ann.objects):
        for o in objs:
            assert o.mark == ann.marks.get(o.actor_id, 0)
        ids = [o.actor_id for o in objs]
        assert 99 in ids  # in view and near enough: reported, but never marked
        assert ids[-1] == 99  # unmarked objects sort last
    # actor 3 is out of the image in frames 0-1 (not reported), then seen
    assert 3 not in by_id(ann.objects[0]) and 3 not in by_id(ann.objects[1])
    assert by_id(ann.objects[2])[3].pixels >= 16


def test_assign_marks_tie_breaks():
    assert assign_marks({5: (0, 100), 2: (0, 100), 9: (0, 300), 1: (3, 999)}) == {9: 1, 2: 2, 5: 3, 1: 4}
    seen = {5: (0, 100), 2: (0, 100), 9: (0, 300), 1: (3, 999)}
    seeded = assign_marks(seen, seed=7)
    assert sorted(seeded.values()) == [1, 2, 3, 4] and seeded == assign_marks(dict(reversed(seen.items())), seed=7)


def test_events_per_frame_have_marks_and_active_flags():
    sc = moving_scene()
    cam = camera()
    ann = annotate_clip(sc, cam, paint(sc, cam), box_silhouette)
    assert len(ann.events) == 5
    for t, recs in enumerate(ann.events):
        col, near = recs
        m = ann.marks
        assert col.kind == "collision" and col.actor_ids == [3, 40] and col.marks == [m[3], m[40]]
        assert near.actor_ids == [99, 12] and near.marks == [m[12]]  # 99 has no mark: omitted
        assert col.active == (t in (2, 3))  # frame times 0.2 and 0.3 are inside [0.2, 0.3]
        assert near.active == (t == 0)


# --------------------------------------------------------------------------------------------- hidden / out of view
def test_fully_hidden_object_is_reported_with_visibility_zero():
    ped = actor(1, "pedestrian", (0.6, 0.6, 1.8), (20.0, -1.0))
    bus = actor(2, "bus", (12.0, 2.5, 3.2), (11.0, -1.0))
    behind = actor(3, "car", (4.5, 1.9, 1.5), (-15.0, 0.0))  # behind the camera
    far = actor(4, "car", (4.5, 1.9, 1.5), (300.0, 0.0))  # beyond max_distance, hidden by the bus too
    sc = scene([ped, bus, behind, far])
    cam = camera()
    clip = paint(sc, cam)
    assert not (clip.instance[0] == 1).any()
    ann = annotate_clip(sc, cam, clip, box_silhouette)
    objs = by_id(ann.objects[0])
    assert set(objs) == {1, 2}
    p = objs[1]
    assert p.bbox_2d is None and p.polygon == [] and p.pixels == 0 and p.mark == 0
    assert (p.visibility, p.occlusion, p.truncation) == (0.0, 1.0, 0.0)
    full = box_silhouette(sc, cam, 0, 1, (0, 0, W, H))
    assert np.allclose(p.bbox_2d_amodal, mask_box(full), atol=1.0)
    assert ann.marks == {2: 1}


def test_near_object_partly_behind_the_camera():
    # a long bus alongside the camera, from 3 m behind it to 9 m ahead: its outline is clipped at the near plane
    bus = actor(2, "bus", (12.0, 2.5, 3.2), (3.0, 2.5))
    sc = scene([bus])
    cam = camera()
    clip = paint(sc, cam)
    mask = clip.instance[0] == 2
    assert mask.any() and mask[:, -1].any()
    (o,) = annotate_clip(sc, cam, clip, box_silhouette).objects[0]
    assert o.bbox_2d == mask_box(mask)
    assert 0.0 < o.truncation < 1.0 and o.occlusion == pytest.approx(0.0, abs=1e-9)
    assert o.bbox_2d_amodal[2] == W
    behind = [c for c, z in zip(o.corners_2d, project_box(cam, bus.size, bus.box_centers()[0], (0, 0, 0)).depth)
              if z <= 0.01]
    assert behind and all(np.isnan(c).all() for c in behind)


def test_traffic_light_state_speed_and_size_source():
    T = 3
    light = actor(50, "traffic_light", (0.5, 0.5, 4.0), (15.0, 3.0), T=T, states=["red", "green", "yellow"])
    car = actor(51, "car", (4.5, 1.9, 1.5), np.stack([np.array([20.0, 21.0, 22.0]), np.full(3, -2.0)], 1), T=T)
    car.size_source = "table"
    sc = scene([light, car], T=T)
    cam = camera()
    ann = annotate_clip(sc, cam, paint(sc, cam), box_silhouette)
    for t, state in enumerate(["red", "green", "yellow"]):
        o = by_id(ann.objects[t])
        assert o[50].state == state and o[51].state is None
        assert o[51].speed == pytest.approx(10.0) and o[50].speed == 0.0
        assert o[51].size_source == "table" and o[50].size_source == "generator"


def test_clip_subset_of_scene_frames_uses_the_right_poses():
    sc = moving_scene()
    cam = camera()
    clip = paint(sc, cam, frames=[2, 4])
    ann = annotate_clip(sc, cam, clip, box_silhouette)
    assert by_id(ann.objects[1])[3].bbox_3d.center[1] == pytest.approx(8.0)
    assert [r.active for r in ann.events[0]] == [True, False]


# --------------------------------------------------------------------------------------------- visibility helpers
def test_visibility_metrics_definitions():
    assert visibility_metrics(30, 100, 60) == pytest.approx((0.3, 0.5, 0.4))
    assert visibility_metrics(0, 100, 0) == (0.0, 0.0, 1.0)  # entirely outside: truncated, not occluded
    assert visibility_metrics(0, 0, 0) == (0.0, 0.0, 0.0)
    assert visibility_metrics(110, 100, 100) == (1.0, 0.0, 0.0)  # clipped


def test_silhouette_downsampling_keeps_ratios():
    cam = camera(yaw=-45.0)
    sc = scene([actor(5, "car", (4.5, 1.8, 1.5), (8.0, 0.0), yaw=90.0)])
    rect = (0, 0, 2 * W, H)
    full = silhouette_counts(box_silhouette, sc, cam, 0, 5, rect, max_pixels=10**9)
    small = silhouette_counts(box_silhouette, sc, cam, 0, 5, rect, max_pixels=5000)
    assert full.scale == 1 and small.scale > 1 and W % small.scale == 0 and H % small.scale == 0
    assert small.s_all == pytest.approx(full.s_all, rel=0.05)
    assert small.s_in / small.s_all == pytest.approx(full.s_in / full.s_all, abs=0.03)
    assert 0.1 < full.s_in / full.s_all < 0.9  # the rect really straddles the image border


def test_cap_rect_and_downsample_factor():
    assert cap_rect((-10**9, -5, 10**9, 10), 320, 240) == (-320, -5, 640, 10)
    assert downsample_factor(100, 320, 240, 1000) == 1
    assert downsample_factor(10_000, 320, 240, 1000) == 4  # gcd 80: 2 -> 2500 > 1000, 4 -> 625
    assert downsample_factor(10_000, 321, 241, 1000) == 1  # no common factor: full resolution


def test_annotation_rounds_through_the_arrow_row_schema():
    import pyarrow as pa

    from sdg.model import EVENT_TYPE, OBJECT_TYPE

    sc = moving_scene()
    cam = camera()
    ann = annotate_clip(sc, cam, paint(sc, cam), box_silhouette)
    objs = pa.array([o.model_dump() for o in ann.objects[2]], type=OBJECT_TYPE)
    evs = pa.array([e.model_dump() for e in ann.events[2]], type=EVENT_TYPE)
    assert objs.to_pylist()[0]["mark"] == 1 and len(evs) == 2


# --------------------------------------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(monkeypatch):
    sc = scene([actor(7, "car", (4.5, 1.9, 1.5), (18.0, 0.0))])
    cam = camera()
    clip = paint(sc, cam)
    with pytest.raises(ValueError, match="instance frames are 320x240 but camera 'cam' is 64x48"):
        annotate_clip(sc, camera(width=64, height=48), clip, box_silhouette)
    with pytest.raises(ValueError, match="expected \\(rows, cols\\)"):
        annotate_clip(sc, cam, clip, lambda s, c, k, a, r: np.zeros((3, 3), bool))
    clip.frame_indices = np.array([5])
    with pytest.raises(ValueError, match="frame_indices span 5..5 but scene 't' has 1 frames"):
        annotate_clip(sc, cam, clip, box_silhouette)
    monkeypatch.setitem(sys.modules, "sdg.render", None)  # make the renderer unimportable
    with pytest.raises(ImportError, match="box_silhouette"):
        annotate_clip(sc, cam, paint(sc, cam))


# --------------------------------------------------------------------------------------------- with the renderer
def test_default_silhouette_is_the_cpu_renderer():
    render = pytest.importorskip("sdg.render")
    ped = actor(1, "pedestrian", (0.6, 0.6, 1.8), (20.0, 0.0))
    bus = actor(2, "bus", (12.0, 2.5, 3.2), (11.0, -1.25))
    car = actor(3, "car", (4.5, 1.9, 1.5), (18.0, 5.0), yaw=20.0)
    sc = scene([ped, bus, car])
    cam = camera()
    clip = render.render_clip(sc, cam, [0])
    objs = by_id(annotate_clip(sc, cam, clip).objects[0])  # silhouette_fn=None -> the renderer's silhouettes
    assert objs[1].occlusion == pytest.approx(0.5, abs=0.05) and objs[1].truncation == 0.0
    assert objs[3].visibility == pytest.approx(1.0, abs=0.02) and objs[3].occlusion == pytest.approx(0.0, abs=0.02)
    assert objs[3].bbox_2d == mask_box(clip.instance[0] == 3)
    assert np.max(np.abs(np.subtract(objs[3].bbox_2d_amodal, objs[3].bbox_2d))) <= 3.0


# --------------------------------------------------------------------------------------------- fast paths
def test_index_instances_counting_pass_equals_the_sort():
    from sdg.groundtruth.masks import _index_instances_sorted

    rng = np.random.default_rng(7)
    frames = [
        rng.choice(np.array([0, 1, 9, 300, 70000], np.uint32), size=(41, 57), p=[0.6, 0.1, 0.1, 0.1, 0.1]),
        rng.integers(0, 3, (20, 30)).astype(np.int32) - 1,  # negative ids: the sort path
        (rng.integers(0, 2, (12, 10)) << 25).astype(np.uint32),  # ids beyond the counting table: the sort path
        rng.integers(0, 6, (9, 11)).astype(np.uint8),
        np.zeros((6, 7), np.uint32),
    ]
    for f in frames:
        fast, ref = index_instances(f), _index_instances_sorted(f.ravel(), f.shape[1])
        assert list(fast) == list(ref) == sorted(ref)  # ids ascending
        for i in ref:
            a, b = fast[i], ref[i]
            assert (a.count, a.u0, a.v0, a.u1, a.v1) == (b.count, b.u0, b.v0, b.u1, b.v1)
            np.testing.assert_array_equal(a.rows, b.rows)  # raster order within each id
            np.testing.assert_array_equal(a.cols, b.cols)
            assert a.rows.dtype == b.rows.dtype == np.int64
    assert set(index_instances(frames[0])) == {1, 9, 300, 70000} and index_instances(frames[4]) == {}


def test_convex_hull_equals_the_numpy_unique_formulation():
    from sdg.groundtruth.projection import convex_hull

    def reference(points):  # the original: np.unique rows, then the monotone chain on numpy rows
        pts = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 2), axis=0)
        if len(pts) < 3:
            return pts
        cross = lambda o, a, b: (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])  # noqa: E731
        lower, upper = [], []
        for p in pts:
            while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
                lower.pop()
            lower.append(p)
        for p in pts[::-1]:
            while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
                upper.pop()
            upper.append(p)
        return np.array(lower[:-1] + upper[:-1])

    rng = np.random.default_rng(3)
    cases = [rng.normal(size=(n, 2)) * 300 for n in (1, 2, 3, 8, 14)]
    cases += [np.round(rng.normal(size=(12, 2)) * 2) for _ in range(50)]  # duplicates and collinear points
    cases += [np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]), np.ones((4, 2)), np.zeros((0, 2))]
    for c in cases:
        got, want = convex_hull(c), reference(c)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_batched_renderer_silhouettes_equal_the_per_object_ones():
    render = pytest.importorskip("sdg.render")
    from sdg.render.demo_scene import street_scene

    sc = street_scene(n_vehicles=14, n_pedestrians=8, n_frames=3, seed=2)
    cam = Camera("c", 240, 136, 60.0, (-6.0, -3.0, 5.0), (0.0, -12.0, 20.0))  # looking across: some cut by borders
    clip = render.render_clip(sc, cam, [0, 2])
    # full resolution, and silhouettes rendered downsampled (at 600 px: some at 1/2, some at 1/4 resolution)
    for cap in (1 << 20, 600):
        fast = annotate_clip(sc, cam, clip, max_silhouette_pixels=cap)  # default: one batch per frame and scale
        slow = annotate_clip(sc, cam, clip, render.silhouette, max_silhouette_pixels=cap)  # one renderer per object
        assert fast.marks == slow.marks
        for f, s in zip(fast.objects, slow.objects):
            assert [o.model_dump() for o in f] == [o.model_dump() for o in s]
        objs = [o for f in fast.objects for o in f]
        # silhouettes were really rendered and mattered: hidden and truncated objects
        assert sum(o.occlusion > 0.05 for o in objs) >= 10 and sum(o.truncation > 0 for o in objs) >= 3
