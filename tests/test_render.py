"""The CPU renderer: exact depth/semantic/instance/normals against analytic geometry, silhouettes, clips."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sdg.geometry import SKY_DEPTH, Camera, box_corners
from sdg.model import SensorClip
from sdg.render import BuiltinSimulator, SceneRenderer, render_clip, render_frame, silhouette
from sdg.render.demo_scene import street_camera, street_scene
from sdg.scene import Actor, GroundMap, Prop, Scene
from sdg.tags import CATEGORY_TAG, TAG

W, H = 160, 120


def _ground() -> GroundMap:
    """A 4 x 4 grid of 10 m cells from x = 0..40, y = -20..20 with different tags; terrain outside."""
    tags = np.array([[1, 1, 2, 24], [1, 24, 2, 3], [2, 1, 1, 1], [25, 2, 24, 1]], dtype=np.uint8)
    alb = np.zeros((4, 4, 3), np.uint8)
    alb[..., 0] = 40 + tags * 5
    alb[..., 1] = 90
    alb[..., 2] = 120
    return GroundMap(x0=0.0, y0=-20.0, resolution=10.0, tags=tags, albedo=alb)


def _box_actor(aid: int, x: float, y: float, size=(4.0, 2.0, 1.6), yaw: float = 0.0, category: str = "car",
               n: int = 3, shape: str | None = "box") -> Actor:
    poses = np.tile([x, y, 0.0, 0.0, 0.0, yaw], (n, 1)).astype(float)
    return Actor(id=aid, type_id="vehicle.test", category=category, size=np.array(size, float), poses=poses,
                 box_offset=np.array([0.0, 0.0, size[2] / 2]), color=(200, 40, 40),
                 attributes={"render_shape": shape} if shape else {})


def _scene(actors=(), props=(), n: int = 3, **kw) -> Scene:
    return Scene(name="t", map_name="m", times=np.arange(n) * 0.1, ground=_ground(), actors=list(actors),
                 props=list(props), **kw)


def _cam(loc=(0.0, 0.0, 2.0), rot=(0.0, -5.0, 0.0), w=W, h=H, fov=70.0) -> Camera:
    return Camera("c", w, h, fov, loc, rot)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    vs, us = np.nonzero(mask)
    return int(us.min()), int(vs.min()), int(us.max()) + 1, int(vs.max()) + 1


def _projected_box(actor: Actor, cam: Camera, k: int = 0) -> np.ndarray:
    centre = actor.box_centers()[k]
    uv, z = cam.project(box_corners(actor.size, centre, actor.poses[k, 3:6]))
    assert np.all(z > 0)
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def _plane_depth(cam: Camera, point, normal, us, vs) -> np.ndarray:
    """Analytic planar depth where the rays of pixels (us, vs) meet the plane through `point` with `normal`."""
    o, dirs, zpu = cam.pixel_rays()
    d = dirs[vs, us]
    t = ((np.asarray(point) - o) @ np.asarray(normal)) / (d @ np.asarray(normal))
    return t * zpu[vs, us]


# ------------------------------------------------------------------------------------------ ground and sky
def test_ground_depth_semantic_normals_and_sky_are_exact():
    cam = _cam(loc=(-3.0, 1.0, 6.0), rot=(0.0, -12.0, 8.0))
    out = render_frame(_scene(), cam, 0)
    o, dirs, zpu = cam.pixel_rays()
    ground = dirs[..., 2] < 0
    t = -o[2] / np.where(ground, dirs[..., 2], -1.0)
    planar = t * zpu
    ground &= planar <= SKY_DEPTH
    assert ground.sum() > 0.3 * W * H and (~ground).sum() > 0.1 * W * H  # both ground and sky in view
    np.testing.assert_allclose(out["depth"][ground], planar[ground], rtol=1e-5)
    # semantic = the ground map's own lookup at the hit point
    hit = o + t[..., None] * dirs
    tags, _ = _scene().ground.lookup(hit[..., 0][ground], hit[..., 1][ground])
    np.testing.assert_array_equal(out["semantic"][ground], tags)
    assert set(np.unique(tags)) >= {1, 2, 10, 24}
    # normals: world up in the camera frame, unit length
    n_exp = cam.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(out["normals"][ground], np.broadcast_to(n_exp, (ground.sum(), 3)), atol=1e-5)
    # sky: far plane, tag 11, no instance, zero normal
    sky = ~ground
    assert np.all(out["depth"][sky] == SKY_DEPTH)
    assert np.all(out["semantic"][sky] == TAG["sky"])
    assert np.all(out["instance"] == 0)
    assert np.all(out["normals"][sky] == 0.0)
    assert out["rgb"][sky].mean() > out["rgb"][ground].mean()  # sky brighter than the ground


# ------------------------------------------------------------------------------------------------- boxes
def test_box_face_depth_normals_and_mask_match_projection():
    a = _box_actor(7, x=12.0, y=0.5, size=(4.0, 2.0, 1.6), yaw=0.0)
    cam = _cam(loc=(0.0, 0.0, 1.2), rot=(0.0, 0.0, 0.0))
    out = render_frame(_scene([a]), cam, 0)
    mask = out["instance"] == 7
    assert mask.sum() > 200
    assert np.all(out["semantic"][mask] == CATEGORY_TAG["car"])
    assert np.all(out["semantic"][~mask] != CATEGORY_TAG["car"])
    # head-on: the visible face is the back face x = 10 (camera z = 10 m exactly)
    vs, us = np.nonzero(mask)
    np.testing.assert_allclose(out["depth"][vs, us], 10.0, rtol=1e-6)
    n_exp = cam.world_to_camera[:3, :3] @ np.array([-1.0, 0.0, 0.0])
    np.testing.assert_allclose(out["normals"][vs, us], np.broadcast_to(n_exp, (len(vs), 3)), atol=1e-6)
    # tight box of the mask = projection of the 3D box corners (within 1 px)
    np.testing.assert_allclose(_tight_box(mask), _projected_box(a, cam), atol=1.0)


def test_rotated_box_face_depth_is_the_analytic_plane_depth():
    yaw = 30.0
    a = _box_actor(9, x=11.0, y=-1.0, size=(4.0, 2.0, 1.6), yaw=yaw)
    cam = _cam(loc=(0.0, 0.0, 3.0), rot=(0.0, -8.0, 0.0))
    out = render_frame(_scene([a]), cam, 0)
    c = a.box_centers()[0]
    r = np.radians(yaw)
    fwd = np.array([math.cos(r), math.sin(r), 0.0])
    right = np.array([-math.sin(r), math.cos(r), 0.0])
    # pixels whose camera normal matches a face's normal lie on that face; compare with the analytic plane
    checked = 0
    for normal, half in ((-fwd, 2.0), (-right, 1.0), (np.array([0.0, 0.0, 1.0]), 0.8)):
        n_cam = cam.world_to_camera[:3, :3] @ normal
        on_face = (out["instance"] == 9) & np.all(np.abs(out["normals"] - n_cam) < 1e-5, axis=-1)
        vs, us = np.nonzero(on_face)
        if len(vs) == 0:
            continue
        exp = _plane_depth(cam, c + normal * half, normal, us, vs)
        np.testing.assert_allclose(out["depth"][vs, us], exp, rtol=1e-3)
        checked += len(vs)
    assert checked > 300  # three faces seen
    np.testing.assert_allclose(np.linalg.norm(out["normals"][out["instance"] == 9], axis=-1), 1.0, atol=1e-5)


def test_z_buffer_hides_the_actor_behind_where_they_overlap():
    front = _box_actor(1, x=9.0, y=0.8)
    back = _box_actor(2, x=15.0, y=-0.6, size=(4.0, 2.0, 2.4))
    scene = _scene([front, back])
    cam = _cam(loc=(0.0, 0.0, 1.5), rot=(0.0, -2.0, 0.0))
    out = render_frame(scene, cam, 0)
    full = (0, 0, W, H)
    s_front = silhouette(scene, cam, 0, 1, full)
    s_back = silhouette(scene, cam, 0, 2, full)
    overlap = s_front & s_back
    assert overlap.sum() > 50 and (s_back & ~s_front).sum() > 50
    assert np.all(out["instance"][s_front] == 1)
    assert np.all(out["instance"][s_back & ~s_front] == 2)
    assert np.all(out["instance"][~(s_front | s_back)] == 0)
    assert np.all(out["depth"][overlap] < 9.0)


def test_prop_tag_no_instance_and_near_plane_clipping():
    # a long wall passing beside and behind the camera: its corners behind the camera must not break the raster
    wall = Prop("box", TAG["wall"], (120, 120, 130), center=(0.0, -4.0, 2.0), size=(60.0, 0.5, 4.0))
    cam = _cam(loc=(0.0, 0.0, 1.7), rot=(0.0, 0.0, -20.0))
    out = render_frame(_scene(props=[wall]), cam, 0)
    on = out["semantic"] == TAG["wall"]
    assert on.sum() > 0.1 * W * H
    assert np.all(out["instance"][on] == 0)
    vs, us = np.nonzero(on & (np.abs(out["normals"][..., 0] - (cam.world_to_camera[:3, :3] @ [0, 1, 0])[0]) < 1e-6))
    exp = _plane_depth(cam, (0.0, -3.75, 0.0), np.array([0.0, 1.0, 0.0]), us, vs)
    np.testing.assert_allclose(out["depth"][vs, us], exp, rtol=1e-3)
    # the wall reaches the left image border (it extends behind the camera)
    assert on[:, 0].any()


def test_cylinder_and_ellipsoid_depth_are_exact():
    props = [Prop("cylinder", TAG["pole"], (100, 100, 100), center=(10.0, 1.5, 3.0), size=(0.6, 0.6, 6.0)),
             Prop("sphere", TAG["vegetation"], (60, 120, 50), center=(12.0, -2.0, 2.5), size=(2.0, 2.0, 2.0))]
    cam = _cam(loc=(0.0, 0.0, 2.5), rot=(0.0, 0.0, 0.0), w=200, h=150)
    out = render_frame(_scene(props=props), cam, 0)
    o, dirs, zpu = cam.pixel_rays()
    for tag, centre, radius in ((TAG["pole"], (10.0, 1.5), 0.3), (TAG["vegetation"], (12.0, -2.0, 2.5), 1.0)):
        vs, us = np.nonzero(out["semantic"] == tag)
        assert len(vs) > 50
        d = dirs[vs, us]
        oc = o[: len(centre)] - np.asarray(centre)
        dd = d[:, : len(centre)]
        a = (dd * dd).sum(1)
        b = (dd * oc).sum(1)
        c = (oc * oc).sum() - radius**2
        t = (-b - np.sqrt(np.maximum(b * b - a * c, 0))) / a
        side = b * b - a * c > 0  # (the pole's top cap is above the view)
        np.testing.assert_allclose(out["depth"][vs, us][side], (t * zpu[vs, us])[side], rtol=1e-4)


# ------------------------------------------------------------------------------------------- silhouettes
def test_silhouette_equals_unoccluded_mask_and_ignores_occluders():
    a = _box_actor(5, x=13.0, y=0.0, category="car", shape=None)  # the real car model
    cam = _cam(loc=(0.0, 3.0, 2.5), rot=(0.0, -6.0, -8.0))
    scene = _scene([a])
    out = render_frame(scene, cam, 0)
    mask = out["instance"] == 5
    assert mask.sum() > 300
    sil = silhouette(scene, cam, 0, 5, (0, 0, W, H))
    np.testing.assert_array_equal(sil, mask)
    # an occluder in front hides part of the mask but not the silhouette
    occl = Prop("box", TAG["wall"], (90, 90, 90), center=(10.0, 0.5, 1.0), size=(0.3, 1.5, 2.0))
    scene2 = _scene([a, _box_actor(6, 12.0, 1.0, size=(1.0, 1.0, 1.0))], props=[occl])
    out2 = render_frame(scene2, cam, 0)
    assert (out2["instance"] == 5).sum() < mask.sum() - 50
    np.testing.assert_array_equal(silhouette(scene2, cam, 0, 5, (0, 0, W, H)), mask)


def test_silhouette_extends_beyond_the_image():
    a = _box_actor(3, x=10.0, y=-4.5, size=(4.0, 2.0, 1.6), yaw=20.0, category="bus", shape=None)
    cam = _cam(loc=(0.0, 0.0, 2.0), rot=(0.0, -5.0, 0.0))
    scene = _scene([a])
    m = 40
    sil = silhouette(scene, cam, 0, 3, (-m, -m, W + m, H + m))
    assert sil.shape == (H + 2 * m, W + 2 * m)
    inside = render_frame(scene, cam, 0)["instance"] == 3
    np.testing.assert_array_equal(sil[m:m + H, m:m + W], inside)
    assert sil[:, :m].any()  # truncated by the left border
    # a wider camera with the same focal length and centre sees exactly the out-of-image part
    f = cam.focal
    big = Camera("big", W + 2 * m, H + 2 * m, 2 * math.degrees(math.atan((W + 2 * m) / (2 * f))), cam.location,
                 cam.rotation)
    assert abs(big.focal - f) < 1e-9
    np.testing.assert_array_equal(render_frame(scene, big, 0)["instance"] == 3, sil)
    # rectangles entirely off the actor, and empty ones
    assert not silhouette(scene, cam, 0, 3, (W + 10, 0, W + 30, 20)).any()
    assert silhouette(scene, cam, 0, 3, (5, 5, 5, 9)).shape == (4, 0)
    with pytest.raises(KeyError):
        silhouette(scene, cam, 0, 99, (0, 0, W, H))


# ------------------------------------------------------------------------------------------------ models
@pytest.mark.parametrize("category,size", [
    ("car", (4.6, 2.05, 1.5)), ("van", (5.0, 2.1, 2.0)), ("truck", (7.9, 2.9, 3.45)), ("bus", (11.5, 2.6, 3.3)),
    ("motorcycle", (2.2, 0.9, 1.55)), ("bicycle", (1.6, 0.85, 1.65)), ("pedestrian", (0.55, 0.6, 1.75)),
    ("traffic_light", (0.45, 0.5, 4.6)), ("traffic_sign", (0.1, 0.8, 2.6)),
])
def test_models_fill_their_box_and_never_leave_it(category, size):
    L, Wd, Hh = size
    a = _box_actor(11, x=0.0, y=0.0, size=size, yaw=0.0, category=category, shape=None)
    scene = _scene([a])
    for az in (90.0, 0.0, 45.0):  # side, front, three-quarter views from box mid-height
        dist = max(L, Wd, Hh) * 2.5 + 3
        r = math.radians(az)
        loc = (dist * math.cos(r), -dist * math.sin(r), Hh / 2)
        cam = Camera("c", 240, 200, 50.0, loc, (0.0, 0.0, math.degrees(math.atan2(-loc[1], -loc[0]))))
        sil = silhouette(scene, cam, 0, 11, (0, 0, 240, 200))
        proj = _projected_box(a, cam)
        tb = np.array(_tight_box(sil), float)
        # never outside the projected box (1 px tolerance for pixel-centre sampling)
        assert tb[0] >= proj[0] - 1 and tb[1] >= proj[1] - 1 and tb[2] <= proj[2] + 1 and tb[3] <= proj[3] + 1
        # and fills it closely: the full height (roofs and heads are set back from the box faces, hence 88 %),
        # and for vehicles the full width in side/front views (body spans length, mirrors/handlebar the width)
        ph, pw = proj[3] - proj[1], proj[2] - proj[0]
        assert (tb[3] - tb[1]) >= 0.88 * ph, (category, az, tb, proj)
        if az in (90.0, 0.0) and category not in ("traffic_light", "traffic_sign", "pedestrian"):
            assert (tb[2] - tb[0]) >= 0.9 * pw, (category, az, tb, proj)
        if category == "pedestrian" and az == 0.0:  # arms span the width
            assert (tb[2] - tb[0]) >= 0.9 * pw, (category, az, tb, proj)


def test_two_wheeler_rider_is_tag_13_with_the_vehicle_instance():
    a = _box_actor(21, x=8.0, y=0.0, size=(1.6, 0.85, 1.65), yaw=90.0, category="bicycle", shape=None)
    out = render_frame(_scene([a]), _cam(loc=(0.0, 0.0, 1.0), rot=(0.0, 0.0, 0.0)), 0)
    m = out["instance"] == 21
    tags = set(np.unique(out["semantic"][m]).tolist())
    assert tags == {TAG["rider"], TAG["bicycle"]}
    assert (out["semantic"] == TAG["rider"]).sum() > (out["semantic"] == TAG["bicycle"]).sum() * 0.3


def test_traffic_light_lights_the_lamp_of_its_state():
    states = ["red", "yellow", "green"]
    tl = Actor(id=30, type_id="traffic.traffic_light", category="traffic_light", size=np.array([0.45, 0.5, 4.6]),
               poses=np.tile([10.0, 0.0, 0.0, 0.0, 0.0, 180.0], (3, 1)), box_offset=np.array([0.0, 0.0, 2.3]),
               states=states)
    scene = _scene([tl])
    cam = _cam(loc=(0.0, 0.0, 4.0), rot=(0.0, 0.0, 0.0), w=200, h=200, fov=20.0)
    hh = min(1.05, 0.4 * 4.6)
    lamp_px = [cam.project([[10.0 - 0.225, 0.0, 4.6 - hh * (i + 0.5) / 3]])[0][0] for i in range(3)]
    for k, st in enumerate(states):
        rgb = render_frame(scene, cam, k)["rgb"].astype(int)
        vals = [rgb[int(v), int(u)] for u, v in lamp_px]
        lit = int(np.argmax([c.sum() for c in vals]))
        assert lit == k, (st, vals)
        assert vals[k].sum() > 2.5 * max(vals[j].sum() for j in range(3) if j != k)


def test_walking_pedestrian_swings_its_legs():
    n = 8
    ped = Actor(id=40, type_id="walker.pedestrian.0001", category="pedestrian", size=np.array([0.7, 0.6, 1.75]),
                poses=np.column_stack([np.linspace(10, 11.2, n), np.zeros((n, 5))]),
                box_offset=np.array([0.0, 0.0, 0.875]))
    scene = _scene([ped], n=n)
    r = SceneRenderer(scene, _cam(loc=(10.6, -6.0, 0.9), rot=(0.0, 0.0, 90.0), w=200, h=160, fov=40.0))
    widths = []
    for k in range(n):
        m = r.render(k)["instance"] == 40
        vs, us = np.nonzero(m[120:])  # the legs (lower part of the image)
        widths.append(us.max() - us.min())
    assert max(widths) - min(widths) >= 4  # the stride opens and closes


# ---------------------------------------------------------------------------------------------- lighting
def test_cast_shadow_darkens_the_ground_behind_a_box():
    a = _box_actor(8, x=12.0, y=0.0, size=(2.0, 2.0, 3.0))
    sun = np.array([-0.5, 0.5, -0.7])
    sun /= np.linalg.norm(sun)
    scene = _scene([a], sun_direction=tuple(sun))
    scene.ground = GroundMap(x0=-50, y0=-50, resolution=100.0, tags=np.ones((1, 1), np.uint8),
                             albedo=np.full((1, 1, 3), 120, np.uint8))
    cam = _cam(loc=(0.0, 0.0, 8.0), rot=(0.0, -30.0, 0.0), w=200, h=160)
    out = render_frame(scene, cam, 0)
    centre = a.box_centers()[0]
    g_shadow = centre + (centre[2] / -sun[2]) * sun  # the centre's shadow on the ground
    g_lit = g_shadow * np.array([1, -1, 1]) + np.array([0, 2 * centre[1], 0])  # mirrored across the box
    (us, vs), _ = cam.project([g_shadow, g_lit])[0].T, None
    px = [out["rgb"][int(v), int(u)].astype(float) for u, v in zip(us, vs)]
    assert all(out["semantic"][int(v), int(u)] == 1 for u, v in zip(us, vs))
    assert px[0].mean() < 0.65 * px[1].mean(), px


def test_numba_kernel_matches_the_numpy_reference_on_a_street():
    from sdg.render.reference import reference_geometry

    scene = street_scene(n_vehicles=16, n_pedestrians=8, n_frames=3, seed=2)
    r = SceneRenderer(scene, street_camera(240, 136))
    out = r.render(1)
    ref = reference_geometry(r, 1)
    assert len(np.unique(ref["instance"])) > 12
    np.testing.assert_array_equal(out["instance"], ref["instance"])
    np.testing.assert_array_equal(out["semantic"], ref["semantic"])
    np.testing.assert_allclose(out["depth"], ref["depth"], rtol=1e-5)
    np.testing.assert_allclose(out["normals"], ref["normals"], atol=1e-5)


# -------------------------------------------------------------------------------------------- clips, API
def test_render_clip_shapes_dtypes_determinism_and_simulator():
    scene = street_scene(n_vehicles=6, n_pedestrians=4, n_frames=4, seed=3)
    cam = street_camera(96, 64)
    clip = render_clip(scene, cam, [0, 2, 3])
    assert isinstance(clip, SensorClip)
    assert clip.rgb.shape == (3, 64, 96, 3) and clip.rgb.dtype == np.uint8
    assert clip.depth.shape == (3, 64, 96) and clip.depth.dtype == np.float32
    assert clip.semantic.dtype == np.uint8 and clip.instance.dtype == np.uint32
    assert clip.normals.shape == (3, 64, 96, 3) and clip.normals.dtype == np.float32
    np.testing.assert_array_equal(clip.frame_indices, [0, 2, 3])
    np.testing.assert_allclose(clip.times, scene.times[[0, 2, 3]])
    assert clip.provenance["simulator"] == "builtin" and clip.provenance["renderer"]
    # each frame equals a standalone render of that frame; a second run is identical
    single = render_frame(scene, cam, 2)
    for key in ("rgb", "depth", "semantic", "instance", "normals"):
        np.testing.assert_array_equal(getattr(clip, key)[1], single[key])
    again = BuiltinSimulator(threads=1).simulate(scene, cam, [0, 2, 3])
    assert BuiltinSimulator.name == "builtin"
    for key in ("rgb", "depth", "semantic", "instance", "normals"):
        np.testing.assert_array_equal(getattr(clip, key), getattr(again, key))
    # frames differ (things move) and actors are in view
    assert not np.array_equal(clip.instance[0], clip.instance[2])
    assert len(np.unique(clip.instance)) > 4


def test_bad_input_gets_clear_errors():
    cam = _cam()
    scene = _scene([_box_actor(1, 10.0, 0.0)])
    with pytest.raises(IndexError, match="frame index 5"):
        render_frame(scene, cam, 5)
    bad = _box_actor(2, 10.0, 0.0)
    bad.poses = bad.poses[:2]
    with pytest.raises(ValueError, match="actor 2"):
        render_frame(_scene([bad]), cam, 0)
    with pytest.raises(ValueError, match="kind"):
        render_frame(_scene(props=[Prop("cone", 20, (1, 1, 1), (5, 0, 1), (1, 1, 1))]), cam, 0)
    dup = [_box_actor(3, 10.0, 0.0), _box_actor(3, 14.0, 0.0)]
    with pytest.raises(ValueError, match="appears twice"):
        render_frame(_scene(dup), cam, 0)


# ------------------------------------------------------------------------------------- batched silhouettes
def test_batched_silhouettes_equal_each_actor_rendered_alone(monkeypatch):
    import sdg.render.renderer as renderer_mod

    scene = street_scene(n_vehicles=14, n_pedestrians=8, n_frames=4, seed=5)
    cam = street_camera(200, 112)
    r = SceneRenderer(scene, cam)
    ids = [a.id for a in scene.actors]
    big = (-60, -40, 260, 150)  # beyond every border
    for k in (0, 3):
        # every actor over the big rectangle, plus odd rectangles: partial, off-image, empty, an actor twice
        reqs = [(a, big) for a in ids] + [(ids[0], (50, 20, 130, 90)), (ids[1], (300, 0, 320, 10)),
                                          (ids[2], (10, 10, 10, 30)), (ids[0], (0, 0, 200, 112))]
        batch = r.silhouettes(k, reqs)
        assert len(batch) == len(reqs)
        for (a, rect), m in zip(reqs, batch):
            u0, v0, u1, v1 = rect
            assert m.shape == (v1 - v0, u1 - u0) and m.dtype == bool
            # the z-buffer pass of render_rows over the actor's primitives alone, and a renderer of that actor only
            np.testing.assert_array_equal(m, r._silhouette_zbuffer(k, a, rect))
            np.testing.assert_array_equal(m, silhouette(scene, cam, k, a, rect))
        assert sum(int(m.sum()) for m in batch[:len(ids)]) > 800  # the scene is really in view
        inside = render_frame(scene, cam, k)["instance"]
        for a, m in zip(ids, batch):
            # where the actor is visible in the full render, its silhouette is set (it only adds hidden pixels)
            assert m[40:152, 60:260][inside == a].all()
    # the threaded kernel gives the same masks as the serial one
    monkeypatch.setattr(renderer_mod, "_PARALLEL_SILHOUETTE_PIXELS", 0)
    par = r.silhouettes(3, reqs)
    for m, p in zip(batch, par):
        np.testing.assert_array_equal(m, p)
    assert r.silhouettes(0, []) == []
    with pytest.raises(KeyError, match="no actor 12345"):
        r.silhouettes(0, [(ids[0], big), (12345, big)])
    with pytest.raises(ValueError, match="u0 <= u1"):
        r.silhouettes(0, [(ids[0], (10, 0, 5, 10))])
