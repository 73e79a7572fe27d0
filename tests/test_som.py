"""Set-of-Mark overlays (sdg.som.marks) and the post-augmentation survival check (sdg.som.survival)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from sdg.model import Box3D, ObjectAnnotation
from sdg.som.marks import FILL_ALPHA, TagStyle, draw_marks, layout_marks, mark_color, render_tag
from sdg.som.survival import SURVIVAL_LOST, survival_scores, with_survival

H, W = 180, 320
BG = (96, 100, 104)


def _frame():
    """A grey frame with a sky band and five actors (ids deliberately unlike their marks), an unmarked one and an
    invisible one. Returns image, instance, object dicts."""
    rng = np.random.default_rng(0)
    img = np.clip(np.full((H, W, 3), BG, np.float64) + rng.normal(0, 5, (H, W, 3)), 0, 255).astype(np.uint8)
    img[:50] = (150, 185, 225)
    inst = np.zeros((H, W), np.uint32)
    objs = []

    def add(aid, mark, y0, y1, x0, x1, colour, ellipse=False, category="car"):
        m = np.zeros((H, W), np.uint8)
        if ellipse:
            cv2.ellipse(m, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1, -1)
        else:
            m[y0:y1, x0:x1] = 1
        m = m.astype(bool) & (inst == 0)
        img[m] = colour
        inst[m] = aid
        ys, xs = np.nonzero(m)
        objs.append({"mark": mark, "actor_id": aid, "category": category, "polygon": [],
                     "bbox_2d": [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]})

    add(968, 1, 70, 120, 20, 120, (200, 30, 30))
    add(971, 2, 90, 150, 90, 180, (30, 30, 160), ellipse=True)  # partly behind 968
    add(1002, 3, 60, 100, 200, 212, (220, 200, 170), category="pedestrian")
    add(1003, 4, 65, 75, 222, 232, (40, 40, 40))
    add(1010, 5, 110, 180, 270, 320, (240, 240, 240))  # touches the right and bottom image borders
    add(1011, 0, 140, 170, 200, 250, (90, 160, 90))  # unmarked
    objs.append({"mark": 6, "actor_id": 1020, "category": "car", "polygon": [], "bbox_2d": None})  # not visible
    return img, inst, objs


def _drawn_region(objs, inst, labels, outline):
    """Pixels draw_marks may change: the marked masks grown by the outline width, and the tags."""
    region = np.zeros(inst.shape, bool)
    k = np.ones((2 * outline + 3, 2 * outline + 3), np.uint8)
    for o in objs:
        if any(lab.actor_id == o["actor_id"] for lab in labels):
            region |= cv2.dilate((inst == o["actor_id"]).astype(np.uint8), k).astype(bool)
    for lab in labels:
        x0, y0, x1, y1 = lab.rect
        region[y0:y1, x0:x1] = True
    return region


def test_mark_colours_are_fixed_and_distinct():
    colours = [mark_color(m) for m in range(1, 61)]
    assert len(set(colours)) == 60
    first = np.array(colours[:12], float)
    d = np.linalg.norm(first[:, None] - first[None], axis=-1) + np.eye(12) * 1e9
    assert d.min() > 40  # the marks of a typical frame are told apart at a glance
    assert mark_color(7) == mark_color(7)
    with pytest.raises(ValueError):
        mark_color(0)


def test_labels_are_the_marks_never_actor_ids_and_sit_by_their_object():
    img, inst, objs = _frame()
    labels = layout_marks(img.shape, objs, instance=inst)
    assert [lab.mark for lab in labels] == [1, 2, 3, 4, 5]  # mark 0 and the invisible object are skipped
    assert [lab.text for lab in labels] == ["1", "2", "3", "4", "5"]
    style = TagStyle.for_image(H, W)
    by_actor = {o["actor_id"]: o for o in objs}
    for lab in labels:
        x0, y0, x1, y1 = lab.rect
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H  # inside the image
        assert (x1 - x0, y1 - y0) == style.tag_size(lab.text)
        bx1, by1, bx2, by2 = by_actor[lab.actor_id]["bbox_2d"]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        reach = 1.5 * style.height  # the tag touches its box or sits just beside it
        assert bx1 - reach <= cx <= bx2 + reach and by1 - reach <= cy <= by2 + reach, lab
    for i, a in enumerate(labels):  # no two tags overlap
        for b in labels[i + 1:]:
            assert (min(a.rect[2], b.rect[2]) <= max(a.rect[0], b.rect[0])
                    or min(a.rect[3], b.rect[3]) <= max(a.rect[1], b.rect[1]))


def test_big_object_gets_its_tag_inside_small_one_beside():
    img, inst, objs = _frame()
    labels = {lab.mark: lab for lab in layout_marks(img.shape, objs, instance=inst)}
    x0, y0, x1, y1 = labels[1].rect
    assert np.all(inst[y0:y1, x0:x1] == 968)  # the tag lies wholly on its (large) object
    x0, y0, x1, y1 = labels[4].rect  # 10x10 object: the tag would hide it, so it goes outside
    assert not np.any(inst[y0:y1, x0:x1] == 1003)


def test_tags_drawn_with_the_mark_text_at_the_layout():
    img, inst, objs = _frame()
    out = draw_marks(img, objs, instance=inst)
    style = TagStyle.for_image(H, W)
    for lab in layout_marks(img.shape, objs, instance=inst):
        patch, cover = render_tag(lab.text, lab.color, style)
        x0, y0, x1, y1 = lab.rect
        crop = out[y0:y1, x0:x1]
        assert np.array_equal(crop[cover], patch[cover])
        if lab.actor_id == 968:  # the raw id would make a wider tag with other glyphs
            wrong, wcover = render_tag("968", lab.color, style)
            assert wrong.shape[1] > patch.shape[1]
            assert not np.array_equal(crop[:, : wrong.shape[1] - 1], wrong[:, : crop.shape[1]])
    # the tag body carries the mark colour, the text the contrasting ink
    patch, cover = render_tag("2", mark_color(2), style)
    assert (np.all(patch == mark_color(2), axis=-1) & cover).sum() > 0.4 * cover.sum()
    ink = np.all(patch == (255, 255, 255), axis=-1) | np.all(patch == (0, 0, 0), axis=-1)
    assert ink[cover].sum() > 0.1 * cover.sum()


def test_fill_and_outline_exact_colours_and_nothing_else_changes():
    img, inst, objs = _frame()
    out = draw_marks(img, objs, instance=inst)
    labels = layout_marks(img.shape, objs, instance=inst)
    style = TagStyle.for_image(H, W)
    tags = np.zeros((H, W), bool)
    for lab in labels:
        tags[lab.rect[1]:lab.rect[3], lab.rect[0]:lab.rect[2]] = True
    for lab in labels:
        m = (inst == lab.actor_id).astype(np.uint8)
        interior = cv2.erode(m, np.ones((2 * style.outline + 3,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT,
                             borderValue=0).astype(bool) & ~tags  # the outline also runs along the image border
        expect = np.round(img[interior] * (1 - FILL_ALPHA) + np.float32(lab.color) * FILL_ALPHA)
        assert interior.sum() > 10
        assert np.array_equal(out[interior], expect.astype(np.uint8))
        cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        edge = m.astype(bool) & ~cv2.erode(m, cross, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
        edge &= ~tags
        assert np.all(out[edge] == lab.color)  # crisp outline in the mark colour along the mask border
    region = _drawn_region(objs, inst, labels, style.outline)
    assert np.array_equal(out[~region], img[~region])
    assert np.array_equal(out[inst == 1011], img[inst == 1011])  # unmarked object untouched


def test_same_base_colour_different_marks_different_overlay():
    img = np.full((60, 100, 3), 128, np.uint8)
    inst = np.zeros((60, 100), np.uint32)
    inst[10:50, 5:45], inst[10:50, 55:95] = 500, 501
    objs = [{"mark": 1, "actor_id": 500, "bbox_2d": [5, 10, 45, 50]},
            {"mark": 2, "actor_id": 501, "bbox_2d": [55, 10, 95, 50]}]
    out = draw_marks(img, objs, instance=inst)
    assert not np.array_equal(out[12, 7], out[12, 57])


def test_only_actor_ids_marks_just_the_event_actors():
    img, inst, objs = _frame()
    out = draw_marks(img, objs, instance=inst, only_actor_ids=[971, 1003])
    labels = layout_marks(img.shape, objs, instance=inst, only_actor_ids=[971, 1003])
    assert [lab.mark for lab in labels] == [2, 4]
    region = _drawn_region(objs, inst, labels, TagStyle.for_image(H, W).outline)
    for aid in (968, 1002, 1010, 1011):
        others = (inst == aid) & ~region
        assert others.sum() > 20
        assert np.array_equal(out[others], img[others])
    assert np.array_equal(out[~region], img[~region])
    assert not np.array_equal(out[inst == 971], img[inst == 971])


def test_objects_lost_in_augmentation_are_not_marked():
    img, inst, objs = _frame()
    objs[0]["survival"], objs[1]["survival"] = 0.1, 0.8
    assert [lab.mark for lab in layout_marks(img.shape, objs, instance=inst)] == [2, 3, 4, 5]
    out = draw_marks(img, objs, instance=inst)
    labels = layout_marks(img.shape, objs, instance=inst)
    region = _drawn_region(objs, inst, labels, TagStyle.for_image(H, W).outline)
    lost = (inst == 968) & ~region
    assert lost.sum() > 1000 and np.array_equal(out[lost], img[lost])
    assert [lab.mark for lab in layout_marks(img.shape, objs, instance=inst, min_survival=None)] == [1, 2, 3, 4, 5]


def test_polygons_are_used_without_an_instance_image():
    img = np.full((40, 60, 3), 50, np.uint8)
    # the outer contour of pixels cols 10..29, rows 5..24 through their centres
    poly = [10.5, 5.5, 29.5, 5.5, 29.5, 24.5, 10.5, 24.5]
    objs = [{"mark": 1, "actor_id": 77, "bbox_2d": [10, 5, 30, 25], "polygon": [poly]}]
    out = draw_marks(img, objs, alpha=1.0)
    changed = np.any(out != img, axis=-1)
    expect = np.zeros((40, 60), bool)
    expect[5:25, 10:30] = True
    lab = layout_marks(img.shape, objs)[0]
    tag = np.zeros_like(expect)
    tag[lab.rect[1]:lab.rect[3], lab.rect[0]:lab.rect[2]] = True
    assert np.array_equal(changed & ~tag, expect & ~tag)
    assert np.all(out[expect & ~tag] == mark_color(1))


def test_deterministic_and_input_untouched():
    img, inst, objs = _frame()
    before = img.copy()
    a = draw_marks(img, objs, instance=inst)
    b = draw_marks(img, list(reversed(objs)), instance=inst)
    assert np.array_equal(a, b)
    assert np.array_equal(img, before)


def test_works_with_object_annotations():
    img, inst, objs = _frame()
    box3 = Box3D(center=[0, 0, 0], size=[4, 2, 1.5], rotation=[0, 0, 0], center_camera=[0, 0, 10])
    anns = [ObjectAnnotation(mark=o["mark"], actor_id=o["actor_id"], category="car", type_id="vehicle.x",
                             bbox_2d=o["bbox_2d"], bbox_2d_amodal=[0, 0, 1, 1], polygon=[], bbox_3d=box3,
                             corners_2d=[], distance=10, visibility=1, occlusion=0, truncation=0, pixels=1, speed=0)
            for o in objs]
    assert np.array_equal(draw_marks(img, anns, instance=inst), draw_marks(img, objs, instance=inst))


def test_tag_size_scales_with_image_and_crowds_never_overlap():
    small, big = TagStyle.for_image(270, 480), TagStyle.for_image(1080, 1920)
    assert big.height == 43 and small.height == 14 and big.outline > small.outline
    img = np.zeros((64, 96, 3), np.uint8)
    inst = np.zeros((64, 96), np.uint32)
    objs = []
    for i in range(12):  # a row of tiny touching objects: tags must spread out
        x = 2 + 7 * i
        inst[30:36, x:x + 6] = 100 + i
        objs.append({"mark": i + 1, "actor_id": 100 + i, "bbox_2d": [x, 30, x + 6, 36]})
    labels = layout_marks(img.shape, objs, instance=inst)
    assert len(labels) == 12
    for i, a in enumerate(labels):
        assert 0 <= a.rect[0] and a.rect[2] <= 96 and 0 <= a.rect[1] and a.rect[3] <= 64
        for b in labels[i + 1:]:
            assert (min(a.rect[2], b.rect[2]) <= max(a.rect[0], b.rect[0])
                    or min(a.rect[3], b.rect[3]) <= max(a.rect[1], b.rect[1]))


def test_bad_inputs_are_named():
    img, inst, objs = _frame()
    with pytest.raises(ValueError, match="instance"):
        draw_marks(img, objs, instance=inst[:-1])
    with pytest.raises(ValueError, match="uint8"):
        draw_marks(img.astype(np.float32), objs)


# ------------------------------------------------------------------------------------------------- survival
def _fog_scene():
    """Road with a depth ramp; a small far object (id 7, 85 m) and a large near one (id 9, 6 m)."""
    rng = np.random.default_rng(1)
    h, w = 120, 200
    img = np.clip(np.full((h, w, 3), 100.0) + rng.normal(0, 4, (h, w, 3)), 0, 255)
    inst = np.zeros((h, w), np.uint32)
    depth = np.repeat(np.linspace(90, 5, h)[:, None], w, axis=1)
    img[20:30, 50:66] = (40, 40, 160)
    inst[20:30, 50:66], depth[20:30, 50:66] = 7, 85
    img[70:110, 100:170] = (200, 60, 50)
    img[85:90, 110:160] = (30, 30, 30)
    inst[70:110, 100:170], depth[70:110, 100:170] = 9, 6
    objs = [{"mark": 1, "actor_id": 7, "bbox_2d": [50, 20, 66, 30]},
            {"mark": 2, "actor_id": 9, "bbox_2d": [100, 70, 170, 110]},
            {"mark": 0, "actor_id": 11, "bbox_2d": [0, 0, 5, 5]},  # unmarked: not scored
            {"mark": 3, "actor_id": 12, "bbox_2d": None}]  # no pixels: not scored
    return img.astype(np.uint8), inst, depth, objs


def test_survival_identical_is_one():
    img, inst, _, objs = _fog_scene()
    s = survival_scores(img, img.copy(), objs, inst)
    assert set(s) == {7, 9}
    assert s[7] == pytest.approx(1.0, abs=1e-6) and s[9] == pytest.approx(1.0, abs=1e-6)


def test_survival_painted_over_is_zero_even_with_new_texture():
    img, inst, _, objs = _fog_scene()
    painted = img.copy()
    painted[inst > 0] = (100, 100, 100)  # the surround's colour
    s = survival_scores(img, painted, objs, inst)
    assert s[7] < 0.05 and s[9] < 0.05
    noisy = np.clip(painted + np.random.default_rng(2).normal(0, 4, painted.shape), 0, 255).astype(np.uint8)
    s = survival_scores(img, noisy, objs, inst)
    assert s[7] < SURVIVAL_LOST / 3 and s[9] < SURVIVAL_LOST / 3


def test_survival_fog_loses_far_object_keeps_near():
    img, inst, depth, objs = _fog_scene()
    t = np.exp(-0.035 * depth)[..., None]  # transmission: 0.05 at 85 m, 0.81 at 6 m
    fog = np.clip(img * t + 200.0 * (1 - t), 0, 255).round().astype(np.uint8)
    s = survival_scores(img, fog, objs, inst)
    assert s[7] < SURVIVAL_LOST / 3
    assert s[9] > 0.6


def test_survival_faded_but_plainly_visible_is_not_lost():
    img = np.full((60, 80, 3), 230, np.uint8)
    inst = np.zeros((60, 80), np.uint32)
    img[20:40, 30:50], inst[20:40, 30:50] = 0, 5  # black on white: an extreme original contrast
    faded = img.copy()
    faded[20:40, 30:50] = 150  # a fifth of the contrast left, still obvious grey on white
    objs = [{"mark": 1, "actor_id": 5, "bbox_2d": [30, 20, 50, 40]}]
    assert survival_scores(img, faded, objs, inst)[5] > 0.6
    ghost = img.copy()
    ghost[20:40, 30:50] = 222  # a faint ghost of it: lost
    assert survival_scores(img, ghost, objs, inst)[5] < SURVIVAL_LOST


def test_survival_tolerates_a_darker_frame():
    img, inst, _, objs = _fog_scene()
    s = survival_scores(img, (img * 0.5).astype(np.uint8), objs, inst)
    assert min(s.values()) > 0.6


def test_survival_shape_mismatch_and_with_survival():
    img, inst, _, objs = _fog_scene()
    with pytest.raises(ValueError, match="aligned"):
        survival_scores(img, img[:, :-1], objs, inst)
    s = {7: 0.25}
    out = with_survival(objs, s)
    assert [o["survival"] for o in out] == [0.25, None, None, None]
    assert "survival" not in objs[0]


def test_traffic_lights_are_outlined_but_not_tinted():
    """A traffic light's lit lamp is the answer to its colour question: the overlay keeps every pixel of it untouched
    and draws its outline around it."""
    img, inst, objs = _frame()
    lights = [dict(o, category="traffic_light") if i == 0 else o for i, o in enumerate(objs)]
    out = draw_marks(img, lights, instance=inst)
    labels = layout_marks(img.shape, lights, instance=inst)
    lab = next(lab for lab in labels if lab.actor_id == lights[0]["actor_id"])
    m = (inst == lab.actor_id).astype(np.uint8)
    tags = np.zeros((H, W), bool)
    for other in labels:
        tags[other.rect[1]:other.rect[3], other.rect[0]:other.rect[2]] = True
    own = m.astype(bool) & ~tags
    assert own.sum() > 10 and np.array_equal(out[own], img[own])  # not even its edge is drawn over
    ring = cv2.dilate(m, np.ones((3, 3), np.uint8)).astype(bool) & ~m.astype(bool) & ~tags & (inst == 0)
    assert ring.any() and np.all(out[ring] == lab.color)  # outlined just outside, in its mark colour


def _light_and_car(state_visible: bool):
    """A thin traffic light right above a small car: the car's tag's first spot (above its box) is on the light."""
    img = np.full((H, W, 3), BG, np.uint8)
    inst = np.zeros((H, W), np.uint32)
    inst[60:100, 150:158] = 7  # the light: 8 x 40 px
    img[62:70, 151:157] = (40, 220, 60)  # its lit green lamp
    inst[104:114, 140:168] = 9  # the car below it, too small for its tag inside
    objs = [{"mark": 1, "actor_id": 7, "category": "traffic_light", "state": "green", "state_visible": state_visible,
             "polygon": [], "bbox_2d": [150.0, 60.0, 158.0, 100.0]},
            {"mark": 2, "actor_id": 9, "category": "car", "polygon": [], "bbox_2d": [140.0, 104.0, 168.0, 114.0]}]
    return img, inst, objs


def test_tags_keep_off_a_traffic_light_whose_lamp_is_asked_about():
    img, inst, objs = _light_and_car(state_visible=True)
    light = (150, 60, 158, 100)
    for lab in layout_marks(img.shape, objs, instance=inst):
        x0, y0, x1, y1 = lab.rect
        assert min(x1, light[2]) <= max(x0, light[0]) or min(y1, light[3]) <= max(y0, light[1]), lab
    out = draw_marks(img, objs, instance=inst)
    assert (out[62:70, 151:157] == (40, 220, 60)).all()  # the lamp is untouched: no fill, no tag on it
    # a light whose lamp is not seen is an ordinary obstacle-free box: the car's tag may sit on it
    img, inst, objs = _light_and_car(state_visible=False)
    car = next(lab for lab in layout_marks(img.shape, objs, instance=inst) if lab.mark == 2)
    x0, y0, x1, y1 = car.rect
    assert not (min(x1, light[2]) <= max(x0, light[0]) or min(y1, light[3]) <= max(y0, light[1]))


def test_lamp_uncovered_reads_through_the_lights_own_outline_but_not_a_tag():
    from sdg.som.survival import lamp_colour, lamp_uncovered
    img, inst, objs = _light_and_car(state_visible=True)
    som = draw_marks(img, objs, instance=inst)
    assert lamp_colour(img, 154.0, 66.0, 3.0) == "green"
    assert lamp_uncovered(img, som, 154.0, 66.0, 3.0)  # the outline runs along the housing, the lamp shows
    covered = som.copy()
    covered[60:72, 148:160] = mark_color(2)  # a tag over the lamp
    assert not lamp_uncovered(img, covered, 154.0, 66.0, 3.0)


def test_a_traffic_lights_own_pixels_are_never_drawn_over():
    img, inst, objs = _light_and_car(state_visible=True)
    out = draw_marks(img, objs, instance=inst)
    light = inst == 7
    assert (out[light] == img[light]).all()  # lamp and housing exactly as rendered
    tags = np.zeros((H, W), bool)
    for lab in layout_marks(img.shape, objs, instance=inst):
        tags[lab.rect[1]:lab.rect[3], lab.rect[0]:lab.rect[2]] = True
    ring = cv2.dilate(light.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~light & ~tags
    assert ring.sum() > 50 and (out[ring] == mark_color(1)).all()  # its outline runs around it, in its colour
