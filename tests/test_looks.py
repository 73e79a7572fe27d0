"""The built-in augmenter (looks), its light projection, and a visual check (``python tests/test_looks.py`` writes a
PNG grid of every look and control to /tmp/looks/)."""
from __future__ import annotations

import numpy as np
import pytest

from sdg.augment.base import Augmenter, AugmentRequest, Look
from sdg.augment.builtin import BuiltinAugmenter
from sdg.augment.lights import HEADLIGHT_COLOR, TAILLIGHT_COLOR, project_lights
from sdg.augment.looks import (
    LIGHTINGS,
    ROADS,
    WEATHERS,
    detect_windows,
    fit_road_plane,
    koschmieder,
    linear_to_srgb,
    look_params,
    luminance,
    render_look,
    srgb_to_linear,
)
from sdg.geometry import SKY_DEPTH, Camera
from sdg.scene import Actor, GroundMap, Light, Prop, Scene
from sdg.tags import TAG

FOV = 90.0


def ground_frame(h: int, w: int, cam_height: float = 6.0, fov: float = FOV, road_value: int = 110,
                 building_value: int | None = None, t: int = 1, wall_at: float = 40.0):
    """A level camera over a flat road: planar depth of the ground plane below the horizon, sky (1000 m) above,
    or a building wall ``wall_at`` m ahead when building_value is given. Returns rgb, depth, semantic."""
    f = w / (2 * np.tan(np.radians(fov) / 2))
    yn = (np.arange(h) + 0.5 - h / 2) / f
    depth = np.full((h, w), SKY_DEPTH, np.float32)
    sem = np.full((h, w), TAG["sky"], np.uint8)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:] = (150, 185, 225)
    below = np.broadcast_to((yn > 0)[:, None], (h, w))
    depth[below] = np.broadcast_to((cam_height / np.where(yn > 0, yn, 1.0))[:, None], (h, w))[below]
    sem[below] = TAG["road"]
    rgb[below] = road_value
    if building_value is not None:
        wall = ~below | (depth > wall_at)
        depth[wall] = wall_at
        sem[wall] = TAG["building"]
        rgb[wall] = building_value
    rep = lambda a: np.repeat(a[None], t, axis=0)  # noqa: E731
    return rep(rgb), rep(depth), rep(sem)


# ------------------------------------------------------------------------------------------------ fog
def test_koschmieder_pure_function_analytic():
    lin = np.full((2, 3, 3), 0.3, np.float32)
    d = np.array([[0.0, 10.0, 50.0], [100.0, 400.0, np.inf]], np.float32)
    a = np.array([0.7, 0.72, 0.75], np.float32)
    out = koschmieder(lin, d, 0.04, a)
    t = np.exp(-0.04 * d.astype(np.float64))[..., None]
    assert np.allclose(out, 0.3 * t + a * (1 - t), atol=1e-6)
    assert np.allclose(out[1, 2], a) and np.allclose(out[0, 0], 0.3)


def test_fog_matches_koschmieder_per_pixel_and_far_is_airlight():
    rgb, depth, sem = ground_frame(60, 96, road_value=120)
    look = Look("fog", "day", "dry", seed=5, variant=0)
    p = look_params(look)
    assert 160.0 <= p.visibility_m <= 400.0 and p.beta == pytest.approx(3.912 / p.visibility_m)
    out = render_look(rgb, depth, sem, look, fov=FOV, sensor=False)
    f = 96 / 2.0  # fov 90
    i0 = float(srgb_to_linear(np.array([120], np.uint8))[0])
    a = np.array(p.airlight)
    for v, u in [(31, 3), (35, 50), (45, 20), (59, 90), (40, 70)]:
        xn, yn = (u + 0.5 - 48) / f, (v + 0.5 - 30) / f
        d = depth[0, v, u] * np.sqrt(1 + xn * xn + yn * yn)  # ray distance from planar depth
        t = np.exp(-p.beta * d)
        expect = linear_to_srgb(np.float32(i0 * t + a * (1 - t)))
        assert np.abs(out[0, v, u].astype(int) - expect.astype(int)).max() <= 1, (v, u)
    # the sky (and anything at the far plane) is pure airlight
    assert np.array_equal(out[0, 5, 10], linear_to_srgb(np.asarray(p.airlight, np.float32)))
    # fog only ever moves pixels towards the airlight, more with distance
    near, far = out[0, 59, 48].astype(int), out[0, 31, 48].astype(int)
    air = linear_to_srgb(np.asarray(p.airlight, np.float32)).astype(int)
    assert np.abs(far - air).max() < np.abs(near - air).max()


# ------------------------------------------------------------------------------------------------ night
def test_night_darkens_and_lights_brighten_their_surroundings():
    h, w = 90, 160
    rgb, depth, sem = ground_frame(h, w, cam_height=6.0, road_value=140)
    f = w / 2.0
    # a street lamp 6 m up (camera-y 0), 4 m left, 15 m ahead -> it lights the road around (-4, ground, 15)
    lamp = np.array([[w / 2 + f * -4 / 15, h / 2, 15.0, 255, 220, 170, 1.0]], np.float32)
    look = Look("clear", "night", "dry", seed=3, variant=0)
    lit = render_look(rgb, depth, sem, look, lights=[lamp], fov=FOV, sensor=False)
    dark = render_look(rgb, depth, sem, look, lights=None, fov=FOV, sensor=False)
    y_in = luminance(srgb_to_linear(rgb[0])).mean()
    y_out = luminance(srgb_to_linear(lit[0])).mean()
    assert y_out < 0.5 * y_in
    v = int(h / 2 + f * 6 / 15)  # the road row at 15 m depth
    u_lit, u_far = int(w / 2 + f * -4 / 15), int(w / 2 + f * 12 / 15)  # same depth, 0 m vs 16 m from the lamp
    assert depth[0, v, u_lit] == depth[0, v, u_far]
    y = luminance(srgb_to_linear(lit[0]))
    assert y[v, u_lit] > 3 * y[v, u_far]
    # without the lamp both are equally dark: the difference is the lamp's
    y0 = luminance(srgb_to_linear(dark[0]))
    assert y0[v, u_lit] == pytest.approx(y0[v, u_far], abs=1e-3)
    assert y[v, u_lit] > 3 * y0[v, u_lit]
    # the sky goes near black
    assert lit[0, 2, 80].max() < 40


def test_night_glare_only_for_visible_emitters_and_beam_spots_have_none():
    rgb, depth, sem = ground_frame(60, 96, building_value=90)
    look = Look("clear", "night", "dry", seed=1, variant=0)
    base = render_look(rgb, depth, sem, look, fov=FOV, sensor=False).astype(int)
    # an emitter 20 m ahead in front of the 40 m wall shows; one 60 m ahead (behind the wall) does not
    for z, shows in ((20.0, True), (60.0, False)):
        row = np.array([[48.0, 20.0, z, 255, 240, 220, 1.0]], np.float32)
        out = render_look(rgb, depth, sem, look, lights=[row], fov=FOV, sensor=False).astype(int)
        assert (out[0, 20, 48].sum() - base[0, 20, 48].sum() > 200) == shows
    # a beam spot (negative intensity) lights the road but draws no source glare at its own pixel
    spot = np.array([[48.0, 40.0, 12.0, 255, 244, 222, -1.0]], np.float32)
    out = render_look(rgb, depth, sem, look, lights=[spot], fov=FOV, sensor=False).astype(int)
    assert out[0, 40, 48].sum() > base[0, 40, 48].sum()
    assert out[0, 40, 48].max() < 250


def test_night_lit_windows_only_on_buildings():
    rgb, depth, sem = ground_frame(90, 160, building_value=150)
    wall = sem[0] == TAG["building"]
    v, u = np.nonzero(wall)
    # paint darker window rectangles on the wall (as a renderer or CARLA texture would)
    for r0 in range(4, int(v.max()) - 6, 9):
        for c0 in range(6, 150, 12):
            rgb[0, r0:r0 + 5, c0:c0 + 6] = 70
    labels = detect_windows(srgb_to_linear(rgb[0]), depth[0], sem[0], 80.0)
    assert labels.max() >= 20
    assert np.all(labels[~wall] == 0)
    assert np.all(labels[5:8, 7:11] > 0) and np.all(labels[0:4, 20:30] == 0)  # a window yes, the wall no
    out = render_look(rgb, depth, sem, Look("clear", "night", "dry", seed=9, variant=0), fov=FOV, sensor=False)
    y = luminance(srgb_to_linear(out[0]))
    wall_level = np.median(y[wall & (labels == 0)])
    lit = (y > 4 * wall_level) & wall
    assert lit.sum() > 30  # some windows are lit...
    assert np.all(labels[lit] > 0)  # ...and only inside detected windows
    frac_lit = len(np.unique(labels[lit])) / labels.max()
    assert 0.1 < frac_lit < 0.6


# ------------------------------------------------------------------------------------------------ rain / road
def test_rain_changes_the_road_more_than_the_rest():
    rgb, depth, sem = ground_frame(90, 160, road_value=130, building_value=130)
    out = render_look(rgb, depth, sem, Look("rain", "day", "wet", seed=4, variant=0), fov=FOV)
    road = sem[0] == TAG["road"]
    y_in, y_out = luminance(srgb_to_linear(rgb[0])), luminance(srgb_to_linear(out[0]))
    change = lambda m: abs(y_out[m].mean() - y_in[m].mean()) / y_in[m].mean()  # noqa: E731
    assert change(road) > change(~road) + 0.1
    assert out[0][~road].astype(int).std() > 1  # streaks and noise exist off the road too


def test_wet_road_without_rain_touches_only_the_road():
    rgb, depth, sem = ground_frame(60, 96, road_value=100, building_value=160)
    out = render_look(rgb, depth, sem, Look("clear", "day", "wet", seed=2, variant=0), fov=FOV, sensor=False)
    road = sem[0] == TAG["road"]
    assert np.array_equal(out[0][~road], rgb[0][~road])
    assert np.abs(out[0][road].astype(int) - rgb[0][road]).mean() > 3
    # far road (grazing) reflects the bright wall: it gets brighter than the near road (steep, mostly darkened)
    assert out[0, 31:33, 40:56].mean() > out[0, 55:60, 40:56].mean()


def test_snow_whitens_up_facing_ground_not_walls():
    rgb, depth, sem = ground_frame(60, 96, road_value=90, building_value=90, wall_at=12.0)
    rgb[0, 31:, :] = (60, 90, 40)  # a green road: snow also takes the colour away
    out = render_look(rgb, depth, sem, Look("snow", "day", "dry", seed=8, variant=0), fov=FOV, sensor=False)
    road, wall = sem[0] == TAG["road"], sem[0] == TAG["building"]
    near = road & (depth[0] < 12.0)  # the same distances as the wall, so the haze is alike
    gain = lambda m: out[0][m].astype(int).mean() - rgb[0][m].mean()  # noqa: E731
    sat = lambda x: (x.max(-1).astype(int) - x.min(-1)).mean()  # noqa: E731
    assert gain(near) > gain(wall) + 40
    assert sat(out[0][near]) < sat(rgb[0][near]) / 3


# ------------------------------------------------------------------------------------------------ contracts
def test_clear_day_dry_without_sensor_is_the_identity():
    rgb, depth, sem = ground_frame(30, 48, building_value=150, t=2)
    rgb = rgb.copy()
    rgb[:, :, :, 1] = np.random.default_rng(0).integers(0, 256, size=rgb.shape[:3], dtype=np.uint8)
    out = render_look(rgb, depth, sem, Look("clear", "day", "dry", seed=1, variant=0), fov=FOV, sensor=False)
    assert np.array_equal(out, rgb)


@pytest.mark.parametrize("weather", WEATHERS)
def test_every_look_keeps_shape_dtype_and_is_deterministic(weather):
    rgb, depth, sem = ground_frame(36, 64, building_value=120, t=2)
    for lighting in LIGHTINGS:
        for road in ROADS:
            look = Look(weather, lighting, road, seed=77, variant=1)
            lamp = [np.array([[20.0, 15.0, 12.0, 255, 220, 170, 1.0]], np.float32)] * 2
            a = render_look(rgb, depth, sem, look, lights=lamp, fov=FOV)
            b = render_look(rgb, depth, sem, look, lights=lamp, fov=FOV)
            assert a.shape == rgb.shape and a.dtype == np.uint8
            assert np.array_equal(a, b), look
            c = render_look(rgb, depth, sem, Look(weather, lighting, road, seed=78, variant=1), lights=lamp,
                            fov=FOV)
            assert not np.array_equal(a, c), look  # another seed: other noise (and streaks, flakes, windows)
            assert not np.array_equal(a[0], a[1])  # noise is fresh per frame


def test_bad_inputs_name_the_field():
    rgb, depth, sem = ground_frame(20, 32)
    look = Look("fog", "day", "dry", seed=1, variant=0)
    with pytest.raises(ValueError, match="depth"):
        render_look(rgb, depth.astype(np.uint16), sem, look)
    with pytest.raises(ValueError, match="semantic"):
        render_look(rgb, depth, sem[:, :10], look)
    with pytest.raises(ValueError, match="lights"):
        render_look(rgb, depth, sem, look, lights=[np.zeros((1, 5), np.float32)])
    with pytest.raises(ValueError, match="look.weather"):
        render_look(rgb, depth, sem, Look("hail", "day", "dry", seed=1, variant=0))


def test_builtin_augmenter_protocol_and_camera_fov():
    rgb, depth, sem = ground_frame(30, 48, t=2)
    look = Look("fog", "dusk", "wet", seed=12, variant=0)
    req = AugmentRequest(clip_id="c1", look=look, prompt="", rgb=rgb, depth=depth, semantic=sem, controls={},
                         fps=10.0)
    aug = BuiltinAugmenter()
    assert isinstance(aug, Augmenter) and aug.name == "builtin"
    out = aug.augment(req)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out, render_look(rgb, depth, sem, look, fov=90.0))
    req.camera = {"fov": 60.0}  # a request that names its camera: its fov wins
    assert np.array_equal(aug.augment(req), render_look(rgb, depth, sem, look, fov=60.0))
    req.rgb = rgb[:, :, :10]
    with pytest.raises(ValueError, match="clip 'c1' variant 0"):
        aug.augment(req)


def test_road_plane_fit_recovers_pitched_camera():
    h, w, f = 90, 160, 80.0
    pitch = np.radians(12.0)  # looking down
    up = np.array([0.0, -np.cos(pitch), np.sin(pitch)])  # world up in OpenCV camera axes
    xn = (np.arange(w) + 0.5 - w / 2) / f
    yn = (np.arange(h) + 0.5 - h / 2) / f
    rays = np.stack(np.broadcast_arrays(xn[None, :], yn[:, None], np.ones((h, w))), -1)
    t = -4.5 / (rays @ up)  # plane n.P = -4.5 (camera 4.5 m above it)
    depth = np.where(t > 0, t, SKY_DEPTH).astype(np.float32)
    sem = np.where(t > 0, TAG["road"], TAG["sky"]).astype(np.uint8)
    n, height = fit_road_plane(depth, sem, f)
    assert height == pytest.approx(4.5, abs=1e-3)
    assert np.allclose(n, up, atol=1e-4)


# ------------------------------------------------------------------------------------------------ lights
def _lights_scene(t: int = 3) -> tuple[Scene, Camera]:
    ground = GroundMap(-50.0, -50.0, 1.0, np.full((100, 100), TAG["road"], np.uint8),
                       np.full((100, 100, 3), 80, np.uint8))
    times = np.arange(t) / 10.0
    towards = np.zeros((t, 6))
    towards[:, 0] = 30.0 - 10.0 * times  # 30 m ahead, driving towards the camera at 10 m/s
    towards[:, 5] = 180.0
    parked = np.zeros((t, 6))
    parked[:, 0], parked[:, 1] = 20.0, 5.0
    cars = [Actor(7, "vehicle.tesla.model3", "car", np.array([4.6, 2.0, 1.5]), towards,
                  box_offset=np.array([0.0, 0.0, 0.75])),
            Actor(8, "vehicle.tesla.model3", "car", np.array([4.6, 2.0, 1.5]), parked,
                  box_offset=np.array([0.0, 0.0, 0.75]))]
    lights = [Light((15.0, -4.0, 6.0), (255, 210, 160), 1.0, "street"), Light((-5.0, 0.0, 6.0))]  # 2nd: behind
    scene = Scene("lights", "test", times, ground, props=[Prop("box", 3, (100, 100, 100), (60, 0, 5), (1, 1, 1))],
                  actors=cars, lights=lights)
    return scene, Camera("cam", 160, 90, 90.0, (0.0, 0.0, 2.0), (0.0, 0.0, 0.0))


def test_project_lights_street_lamp_exact_and_behind_camera_dropped():
    scene, cam = _lights_scene()
    rows = project_lights(scene, cam, [0, 2])
    assert len(rows) == 2 and all(r.dtype == np.float32 and r.shape[1] == 7 for r in rows)
    uv, z = cam.project(np.array([[15.0, -4.0, 6.0]]))
    lamp = rows[0][(rows[0][:, 3] == 255) & (rows[0][:, 4] == 210)]
    assert len(lamp) == 1
    assert np.allclose(lamp[0, :3], [uv[0, 0], uv[0, 1], z[0]], atol=1e-3)
    assert lamp[0, 6] == pytest.approx(1.0)
    assert np.all(rows[0][:, 2] > 0)  # the lamp at x = -5 (behind the camera) is not there
    assert len(rows[0][(rows[0][:, 4] == 220)]) == 0


def test_project_lights_vehicle_lamps_follow_pose_and_face():
    scene, cam = _lights_scene()
    for k, rows in zip([0, 2], project_lights(scene, cam, [0, 2])):
        head = rows[(rows[:, 6] > 0) & np.all(rows[:, 3:6] == HEADLIGHT_COLOR, axis=1)]
        tail = rows[np.all(rows[:, 3:6] == TAILLIGHT_COLOR, axis=1)]
        beams = rows[rows[:, 6] < 0]
        assert len(head) == 2  # the moving car faces the camera: both headlights, no tail lights
        assert len(tail) == 0
        x_front = 30.0 - 10.0 * scene.times[k] - 2.3
        expect, ez = cam.project(np.array([[x_front, -0.75, 0.7], [x_front, 0.75, 0.7]]))
        order = np.argsort(head[:, 0])
        assert np.allclose(head[order, :2], expect, atol=1e-3) and np.allclose(head[order, 2], ez, atol=1e-3)
        assert len(beams) > 0 and np.all(beams[:, 2] < ez.min())  # beam spots on the road ahead (towards us)
    # the parked car (never moves) has no lamps: every vehicle lamp row belongs to car 7
    assert all(len(r[np.all(r[:, 3:6] == TAILLIGHT_COLOR, axis=1)]) == 0 for r in project_lights(scene, cam, [1]))


def test_a_traffic_lights_lit_lamp_is_an_emitter_facing_its_front():
    """The lamp of the light's state at each frame, in that colour, where the renderer draws it; a light with its
    back to the camera shows none (so night looks show a colour exactly where the lit face is seen)."""
    from sdg.augment.lights import SIGNAL_COLORS
    from sdg.render.actors import traffic_light_lamps

    scene, cam = _lights_scene()
    size = np.array([0.5, 0.5, 4.0])
    facing = np.tile([25.0, -3.0, 0.0, 0.0, 0.0, 180.0], (3, 1))  # yaw 180: its +x (lamp side) looks at the camera
    away = np.tile([25.0, 3.0, 0.0, 0.0, 0.0, 0.0], (3, 1))
    box = np.array([0.0, 0.0, 2.0])
    scene.actors += [Actor(30, "traffic.traffic_light", "traffic_light", size, facing, box_offset=box,
                           states=["red", "red", "green"]),
                     Actor(31, "traffic.traffic_light", "traffic_light", size, away, box_offset=box,
                           states=["green", "green", "green"])]
    lamps = {name: face for name, face, _, _ in traffic_light_lamps(size)}
    for k, rows in zip([0, 2], project_lights(scene, cam, [0, 2])):
        colours = {tuple(int(c) for c in r[3:6]) for r in rows}
        state = "red" if k == 0 else "green"
        sig = rows[np.all(rows[:, 3:6] == SIGNAL_COLORS[state], axis=1)]
        assert len(sig) == 1  # the lit lamp of the facing light only
        world = np.array([25.0, -3.0, 0.0]) + np.array([-1.0, -1.0, 1.0]) * (lamps[state] + box)  # yaw 180
        uv, z = cam.project(world[None])
        assert np.allclose(sig[0, :3], [uv[0, 0], uv[0, 1], z[0]], atol=1e-3)
        other = [c for n, c in SIGNAL_COLORS.items() if n != state]
        assert not colours & set(other)  # no unlit lamp, and nothing of the light facing away


def test_project_lights_errors():
    scene, cam = _lights_scene()
    with pytest.raises(IndexError, match="frame index 5"):
        project_lights(scene, cam, [5])
    scene.lights.append(Light((0.0, 0.0, 1.0), actor_id=99))
    with pytest.raises(ValueError, match="actor 99"):
        project_lights(scene, cam, [0])


# ------------------------------------------------------------------------------------------------ realistic frame
def _street_scene(t: int = 2) -> tuple[Scene, Camera]:
    """A small street: road with markings, sidewalks, buildings, lamps on poles, trees, moving cars."""
    res = 0.25
    nx, ny = 480, 240
    xs = -20 + (np.arange(nx) + 0.5) * res
    ys = -30 + (np.arange(ny) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    tags = np.full((ny, nx), TAG["terrain"], np.uint8)
    alb = np.zeros((ny, nx, 3), np.uint8)
    alb[:] = (96, 110, 72)
    for mask, tag, col in (((np.abs(gy) < 11), TAG["sidewalk"], (150, 146, 138)), ((np.abs(gy) < 7), TAG["road"],
                           (72, 72, 76)), (((np.abs(gy) < 0.15) & (np.mod(gx, 6) < 3)) | (np.abs(np.abs(gy) - 6.6)
                                                                                          < 0.13), TAG["road_line"],
                                           (225, 225, 215))):
        tags[mask], alb[mask] = tag, col
    rng = np.random.default_rng(3)
    props, lights = [], []
    for s in (-1, 1):
        x = -10.0
        while x < 100:
            length, height = rng.uniform(10, 18), rng.uniform(8, 28)
            props.append(Prop("box", TAG["building"], tuple(int(c) for c in rng.integers(110, 200, 3)),
                              (x + length / 2, s * 17.0, height / 2), (length, 10.0, height)))
            x += length + rng.uniform(0.5, 3)
        for x in np.arange(0, 100, 16.0):
            props.append(Prop("cylinder", TAG["pole"], (90, 90, 95), (x, s * 7.6, 3.5), (0.25, 0.25, 7.0)))
            lights.append(Light((x, s * 6.6, 6.8), (255, 214, 160), 1.0, "street"))
            props.append(Prop("cylinder", TAG["vegetation"], (62, 100, 45), (x + 8, s * 9.5, 4.5), (3.2, 3.2, 3.4)))
            props.append(Prop("cylinder", TAG["vegetation"], (60, 45, 30), (x + 8, s * 9.5, 1.5), (0.35, 0.35, 3)))
    times = np.arange(t) / 10.0
    actors = []
    for i, (x, y, yaw, v, col) in enumerate([(2.0, -3.5, 0.0, 9.0, (180, 30, 30)), (20, 3.5, 180, 8, (30, 60, 160)),
                                             (35, -3.5, 0, 10, (220, 220, 225)), (12, 3.5, 180, 9, (200, 180, 40))]):
        poses = np.zeros((t, 6))
        poses[:, 0], poses[:, 1], poses[:, 5] = x + v * times * (1 if yaw == 0 else -1), y, yaw
        actors.append(Actor(100 + i, "vehicle.tesla.model3", "car", np.array([4.6, 2.0, 1.5]), poses,
                            box_offset=np.array([0.0, 0.0, 0.75]), color=col))
    scene = Scene("street", "synthetic", times, GroundMap(-20.0, -30.0, res, tags, alb), props, actors,
                  lights=lights, sun_direction=(-0.5, 0.45, -0.75))
    return scene, Camera("cam", 160, 90, 90.0, (-6.0, -1.0, 6.5), (0.0, -14.0, 4.0))


def test_looks_on_a_rendered_street():
    render = pytest.importorskip("sdg.render.renderer")
    scene, cam = _street_scene()
    clip = render.render_clip(scene, cam, [0, 1])
    lights = project_lights(scene, cam, [0, 1])
    assert sum(len(r) for r in lights) > 10
    y_day = luminance(srgb_to_linear(clip.rgb)).mean()
    for weather, lighting, road in (("clear", "night", "dry"), ("rain", "night", "wet"), ("snow", "dusk", "dry"),
                                    ("fog", "day", "dry")):
        look = Look(weather, lighting, road, seed=21, variant=0)
        out = render_look(clip.rgb, clip.depth, clip.semantic, look, lights=lights, fov=cam.fov)
        assert out.shape == clip.rgb.shape and out.dtype == np.uint8
        y = luminance(srgb_to_linear(out)).mean()
        if lighting == "night":
            assert y < 0.5 * y_day


# ------------------------------------------------------------------------------------------------ visual check
def write_grid(path: str = "/tmp/looks/grid.png", width: int = 480, height: int = 270) -> str:
    """Original + every look + each control of a rendered street, as one PNG grid (3 frames into the clip)."""
    import os

    import cv2

    from sdg.augment.controls import make_controls
    from sdg.render.renderer import render_clip

    scene, cam = _street_scene(4)
    cam = Camera("cam", width, height, cam.fov, cam.location, cam.rotation)
    clip = render_clip(scene, cam, range(4))
    lights = project_lights(scene, cam, range(4))
    tiles = [("original", clip.rgb[3])]
    combos = [("clear", "dusk", "dry"), ("clear", "night", "dry"), ("fog", "day", "dry"), ("fog", "night", "dry"),
              ("rain", "day", "wet"), ("rain", "night", "wet"), ("snow", "day", "dry"), ("snow", "night", "dry"),
              ("clear", "day", "wet"), ("rain", "dusk", "wet"), ("snow", "dusk", "dry")]
    for w, l, r in combos:
        out = render_look(clip.rgb, clip.depth, clip.semantic, Look(w, l, r, seed=7, variant=0), lights=lights,
                          fov=cam.fov)
        tiles.append((f"{w}/{l}/{r}", out[3]))
    controls = make_controls(clip.rgb, clip.depth, clip.semantic, ["edge", "depth", "seg", "vis"],
                             instance=clip.instance)
    tiles += [(f"control: {k}", v[3]) for k, v in controls.items()]
    cols = 4
    rows = (len(tiles) + cols - 1) // cols
    grid = np.zeros((rows * height, cols * width, 3), np.uint8)
    for i, (name, img) in enumerate(tiles):
        r, c = divmod(i, cols)
        tile = np.ascontiguousarray(img[..., ::-1])
        cv2.putText(tile, name, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, name, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = tile
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, grid)
    return path


if __name__ == "__main__":
    print(write_grid())
