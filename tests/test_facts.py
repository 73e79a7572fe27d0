"""Clip facts for the Q&A (sdg.groundtruth.facts): a traffic light's colour is seen only from its lit face, in
rendered frames; junction areas from stop lines; the re-draw of looks that lose marked objects (sdg.som.redraw) with
the real built-in augmenter."""
from __future__ import annotations

import numpy as np
import pytest

from sdg.augment.base import AugmentRequest, Look
from sdg.augment.builtin import BuiltinAugmenter
from sdg.geometry import Camera
from sdg.groundtruth import annotate_clip
from sdg.groundtruth.facts import actor_tracks, junction_areas, lamp_pixel, lit_lamp_seen
from sdg.render import render_clip
from sdg.render.actors import traffic_light_lamps
from sdg.scene import Actor, GroundMap, Scene
from sdg.som.redraw import keep_answerable, lost_fraction, milder_look, severity
from sdg.som.survival import colour_name, lamp_colour


def _ground() -> GroundMap:
    tags = np.ones((4, 4), np.uint8)
    return GroundMap(x0=-20.0, y0=-20.0, resolution=20.0, tags=tags, albedo=np.full((4, 4, 3), 90, np.uint8))


def _light(aid: int, x: float, y: float, yaw: float, states: list[str]) -> Actor:
    n = len(states)
    return Actor(id=aid, type_id="traffic.traffic_light", category="traffic_light",
                 size=np.array([0.6, 0.6, 4.5]), poses=np.tile([x, y, 0.0, 0.0, 0.0, yaw], (n, 1)).astype(float),
                 box_offset=np.array([0.0, 0.0, 2.25]), color=(45, 47, 50), states=list(states))


def _lights_scene():
    states = ["red", "green", "yellow"]
    facing = _light(9001, 14.0, -2.0, 180.0, states)  # lamps face -x: towards the camera at the origin
    back = _light(9002, 14.0, 2.0, 0.0, states)  # lamps face +x: the camera sees its back
    return Scene(name="lights", map_name="m", times=np.arange(3) * 0.1, ground=_ground(), actors=[facing, back])


CAM = Camera("c", 320, 240, 60.0, (0.0, 0.0, 3.5), (0.0, 0.0, 0.0))


def test_only_a_light_facing_the_camera_shows_its_colour():
    sc = _lights_scene()
    clip = render_clip(sc, CAM, [0, 1, 2])
    ann = annotate_clip(sc, CAM, clip)
    tracks = actor_tracks(sc, [0, 1, 2], [9001, 9002])
    for t, state in enumerate(["red", "green", "yellow"]):
        objs = {o.actor_id: o for o in ann.objects[t]}
        assert objs[9001].state_visible is True and objs[9002].state_visible is False
        assert objs[9001].state == state
        u, v, r = lamp_pixel(CAM, tracks[9001], t)
        assert r > 1.0
        assert lamp_colour(clip.rgb[t], u, v, r) == state  # the rendered lamp shows the state's colour
        u, v, r = lamp_pixel(CAM, tracks[9002], t)
        assert lamp_colour(clip.rgb[t], u, v, r) is None  # the housing's back, no colour
        assert lit_lamp_seen(CAM, sc.actors[0], t, clip.depth[t], clip.instance[t])


def test_a_light_hidden_behind_something_is_not_seen():
    sc = _lights_scene()
    blocker = Actor(id=5, type_id="vehicle.box", category="truck", size=np.array([1.0, 3.0, 6.0]),
                    poses=np.tile([8.0, -2.0, 0.0, 0.0, 0.0, 0.0], (3, 1)).astype(float),
                    box_offset=np.array([0.0, 0.0, 3.0]), attributes={"render_shape": "box"})
    sc.actors.append(blocker)
    clip = render_clip(sc, CAM, [0])
    assert not lit_lamp_seen(CAM, sc.actors[0], 0, clip.depth[0], clip.instance[0])


def test_lamp_geometry_matches_the_model():
    lamps = traffic_light_lamps((0.6, 0.6, 4.5))
    assert [n for n, *_ in lamps] == ["red", "yellow", "green"]
    zs = [c[2] for _, c, _, _ in lamps]
    assert zs[0] > zs[1] > zs[2] and all(c[0] == pytest.approx(0.3) for _, c, _, _ in lamps)


def test_colour_names():
    assert colour_name((255, 31, 20)) == "red" and colour_name((255, 199, 26)) == "yellow"
    assert colour_name((38, 255, 115)) == "green"
    assert colour_name((56, 13, 10)) is None  # an unlit lamp is too dark
    assert colour_name((200, 200, 200)) is None  # grey


def test_junction_area_is_the_hull_of_its_stop_lines():
    lines = [(np.array([[0.0, -16.0], [-7.0, -16.0]]), 1), (np.array([[16.0, 0.0], [16.0, -7.0]]), 2),
             (np.array([[0.0, 16.0], [7.0, 16.0]]), 3), (np.array([[-16.0, 0.0], [-16.0, 7.0]]), 4),
             (np.array([[200.0, 0.0], [200.0, 7.0]]), 5), (np.array([[210.0, 10.0], [203.0, 10.0]]), 6),
             (np.array([[205.0, -5.0], [210.0, -5.0]]), None)]
    areas = junction_areas(lines)
    assert len(areas) == 2
    a = areas[0]
    assert a[:, 0].min() == -16.0 and a[:, 0].max() == 16.0 and len(a) == 8


# ------------------------------------------------------------------------------------------------- re-draw
def test_milder_looks_are_milder_and_seeded():
    look = Look("fog", "day", "dry", seed=1, variant=0)
    milder = milder_look(look, ["clear", "fog", "rain", "snow"], ["day", "night", "dusk"], seed=3, clip_id="c",
                         attempt=0)
    assert severity(milder) == severity(look) - 1 and milder.variant == 0 and milder.seed != look.seed
    assert milder == milder_look(look, ["clear", "fog", "rain", "snow"], ["day", "night", "dusk"], seed=3,
                                 clip_id="c", attempt=0)
    assert milder_look(Look("clear", "day", "dry", 1, 0), ["clear", "fog"], ["day"], seed=3, clip_id="c",
                       attempt=0) is None


def _far_objects_clip():
    """Marked dull cars far away (280-300 m) on a grey road as far away, under a bright sky: day fog veils them."""
    t, h, w = 2, 90, 160
    rgb = np.zeros((t, h, w, 3), np.uint8)
    rgb[:, :40] = (150, 185, 225)
    rgb[:, 40:] = (90, 90, 92)
    depth = np.full((t, h, w), 1000.0, np.float32)
    depth[:, 40:] = 300.0
    semantic = np.full((t, h, w), 11, np.uint8)
    semantic[:, 40:] = 1
    instance = np.zeros((t, h, w), np.uint32)
    objects = []
    for i, x in enumerate((20, 70, 120)):
        aid = i + 1
        rgb[:, 44:56, x:x + 22] = (60, 58, 62) if i % 2 else (125, 122, 120)
        rgb[:, 48:50, x + 4:x + 18] = (30, 30, 30)
        depth[:, 44:56, x:x + 22] = 280.0 + 10 * i
        semantic[:, 44:56, x:x + 22] = 14
        instance[:, 44:56, x:x + 22] = aid
        objects.append({"mark": aid, "actor_id": aid, "bbox_2d": [x, 44, x + 22, 56]})
    return rgb, depth, semantic, instance, [objects] * t


def test_a_look_that_loses_the_marks_is_redrawn_milder_until_they_survive():
    rgb, depth, semantic, instance, objects = _far_objects_clip()
    aug = BuiltinAugmenter(fov=90.0, sensor=False)
    look = Look("fog", "day", "dry", seed=123, variant=0)
    req = AugmentRequest(clip_id="c", look=look, prompt="fog", rgb=rgb, depth=depth, semantic=semantic, controls={},
                         fps=10.0)
    frames = aug.augment(req)
    # make sure the fog really loses the far objects (otherwise there is nothing to test)
    req2, frames2, scores, info = keep_answerable(
        req, frames, augment=aug.augment, prompt=lambda lk: f"{lk.weather} {lk.lighting}", objects=objects,
        instance=instance, weather=["clear", "fog", "rain"], lighting=["day"], seed=7, max_lost=0.3, attempts=3)
    assert info["redraws"] and info["redraws"][0]["lost_fraction"] > 0.3
    assert info["lost_fraction"] <= 0.3
    assert severity(req2.look) < severity(look) and req2.prompt == f"{req2.look.weather} day"
    assert lost_fraction(scores) == pytest.approx(info["lost_fraction"], abs=1e-4)
    assert frames2.shape == rgb.shape and not np.array_equal(frames2, frames)
    # a look that keeps them is left alone
    clear = AugmentRequest(clip_id="c", look=Look("clear", "day", "dry", 1, 0), prompt="p", rgb=rgb, depth=depth,
                           semantic=semantic, controls={}, fps=10.0)
    same = keep_answerable(clear, aug.augment(clear), augment=aug.augment, prompt=str, objects=objects,
                           instance=instance, weather=["clear"], lighting=["day"], seed=7, max_lost=0.3, attempts=3)
    assert same[0] is clear and same[3]["redraws"] == []
