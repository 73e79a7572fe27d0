import numpy as np
import pytest

from sdg.geometry import SKY_DEPTH, Camera, transform_matrix
from sdg.groundtruth.flow import clip_flow, flow_visual, frame_flow, warp_backward
from sdg.render import render_clip
from sdg.render.demo_scene import street_camera, street_scene
from sdg.scene import Actor, GroundMap, Scene


def _scene():
    ground = GroundMap(x0=-50, y0=-50, resolution=0.5, tags=np.ones((200, 200), np.uint8),
                       albedo=np.full((200, 200, 3), 90, np.uint8))
    times = np.arange(4) * 0.1
    # a car moving +x at 10 m/s while turning (yaw 0 -> 15 deg); a pedestrian standing still
    poses = np.zeros((4, 6))
    poses[:, 0] = 12.0 + 10.0 * times
    poses[:, 1] = -2.0 + 2.0 * times
    poses[:, 5] = 5.0 * np.arange(4)
    car = Actor(id=7, type_id="vehicle.tesla.model3", category="car", size=np.array([4.6, 2.0, 1.5]), poses=poses,
                box_offset=np.array([0, 0, 0.75]), color=(180, 40, 40), attributes={"render_shape": "box"})
    ped_poses = np.tile([18.0, 3.0, 0, 0, 0, 0], (4, 1)).astype(float)
    ped = Actor(id=9, type_id="walker.pedestrian.0001", category="pedestrian", size=np.array([0.5, 0.5, 1.8]),
                poses=ped_poses, box_offset=np.array([0, 0, 0.9]), attributes={"render_shape": "box"})
    return Scene("flow", "test", times, ground, actors=[car, ped])


def test_flow_warps_next_frame_onto_this_one():
    scene = _scene()
    cam = Camera("c", 320, 180, 80.0, (0.0, 0.0, 4.0), (0.0, -10.0, 0.0))
    clip = render_clip(scene, cam, [0, 1, 2, 3])
    flow = clip_flow(scene, cam, [0, 1, 2, 3], clip.depth, clip.instance)
    assert flow.shape == (4, 180, 320, 2) and flow.dtype == np.float32
    assert np.isnan(flow[3]).all()
    for t in range(3):
        car = clip.instance[t] == 7
        assert car.sum() > 200
        # the car moves (away from the camera and to the right), the world does not
        assert np.abs(flow[t][car]).max() > 1.0
        # static things do not move
        assert np.all(flow[t][clip.instance[t] == 0] == 0) and np.all(flow[t][clip.instance[t] == 9] == 0)
        # warping frame t+1 by the flow gives back frame t's instance ids on the car, except where the car
        # self-occludes/disoccludes at its silhouette (a thin border)
        back = warp_backward(clip.instance[t + 1], flow[t])
        agree = (back[car] == 7).mean()
        assert agree > 0.95, agree



def test_flow_is_exact_for_a_sideways_translation():
    # camera looking straight down +x; a box sliding +y (to the right) at constant depth: flow = f*dy/z
    scene = _scene()
    scene.actors[0].poses[:, 0] = 20.0
    scene.actors[0].poses[:, 1] = np.arange(4) * 0.5
    scene.actors[0].poses[:, 5] = 0.0
    cam = Camera("c", 200, 100, 90.0, (0.0, 0.0, 0.75), (0.0, 0.0, 0.0))
    clip = render_clip(scene, cam, [0, 1])
    flow = clip_flow(scene, cam, [0, 1], clip.depth, clip.instance)
    front = (clip.instance[0] == 7) & (np.abs(clip.depth[0] - (20.0 - 2.3)) < 1e-3)
    assert front.sum() > 50
    expected_du = cam.focal * 0.5 / (20.0 - 2.3)
    np.testing.assert_allclose(flow[0][front][:, 0], expected_du, rtol=1e-4)
    np.testing.assert_allclose(flow[0][front][:, 1], 0.0, atol=1e-6)
    assert clip.depth[0][0, 0] == SKY_DEPTH or clip.depth[0][0, 0] > 0
    vis = flow_visual(flow[0])
    assert vis.shape == (100, 200, 3) and vis[front].std(axis=0).max() < 1.0 and vis[front][0, 0] > 200


def _reference_frame_flow(scene, camera, k, k_next, depth, instance):
    """The definition in the module docstring, written out with per-actor full-image masks and numpy (the
    original implementation): what the kernel must reproduce."""
    h, w = depth.shape
    flow = np.zeros((h, w, 2), np.float32)
    surface = depth < SKY_DEPTH * 0.999
    f, cx, cy = camera.focal, w / 2.0, h / 2.0
    xs = (np.arange(w, dtype=np.float64) + 0.5 - w / 2.0) / f
    ys = (np.arange(h, dtype=np.float64) + 0.5 - h / 2.0) / f
    d = depth.astype(np.float64)
    pc = np.stack([xs[None, :] * d, ys[:, None] * d, d], axis=-1)
    w2c = camera.world_to_camera
    c2w = np.linalg.inv(w2c)
    by_id = {a.id: a for a in scene.actors}
    for aid in np.unique(instance[surface & (instance > 0)]):
        actor = by_id.get(int(aid))
        if actor is None:
            continue
        p0, p1 = actor.poses[k], actor.poses[k_next]
        motion = transform_matrix(p1[:3], p1[3:]) @ np.linalg.inv(transform_matrix(p0[:3], p0[3:]))
        if np.allclose(motion, np.eye(4), atol=1e-9):
            continue
        m = (instance == aid) & surface
        t = w2c @ motion @ c2w
        moved = pc[m] @ t[:3, :3].T + t[:3, 3]
        z = np.maximum(moved[:, 2], 1e-6)
        vs, us = np.nonzero(m)
        flow[vs, us, 0] = f * moved[:, 0] / z + cx - (us + 0.5)
        flow[vs, us, 1] = f * moved[:, 1] / z + cy - (vs + 0.5)
    return flow


def test_flow_kernel_equals_the_per_actor_numpy_formulation():
    scene = street_scene(n_vehicles=14, n_pedestrians=10, n_frames=4, seed=4)
    scene.actors[3].poses[:] = scene.actors[3].poses[0]  # one actor standing still: flow exactly 0
    cam = street_camera(240, 136)
    clip = render_clip(scene, cam, [0, 1, 3])
    inst = clip.instance.copy()
    inst[:, 5:9, 5:9] = 4242  # an id that is no scene actor: flow 0, like the static world
    flow = clip_flow(scene, cam, clip.frame_indices, clip.depth, inst)
    assert np.isnan(flow[2]).all()
    moving = 0
    for t, (k, k_next) in enumerate([(0, 1), (1, 3)]):
        ref = _reference_frame_flow(scene, cam, k, k_next, clip.depth[t], inst[t])
        # exactly the same pixels move, by the same vectors (up to the rounding of a BLAS product, 1e-4 px)
        np.testing.assert_array_equal(flow[t] != 0, ref != 0)
        np.testing.assert_allclose(flow[t], ref, rtol=0, atol=1e-4)
        still = inst[t] == scene.actors[3].id
        assert still.sum() > 20 and not flow[t][still].any() and not flow[t][inst[t] == 4242].any()
        moving += int((ref[..., 0] != 0).sum())
    assert moving > 2000
    # writing into a given buffer (as clip_flow does) gives the same result, and bad shapes are refused
    buf = np.full((136, 240, 2), 7.0, np.float32)
    assert frame_flow(scene, cam, 0, 1, clip.depth[0], inst[0], out=buf) is buf
    np.testing.assert_array_equal(buf, flow[0])
    with pytest.raises(ValueError, match="out must be"):
        frame_flow(scene, cam, 0, 1, clip.depth[0], inst[0], out=np.zeros((136, 240, 2), np.float64))
    np.testing.assert_array_equal(frame_flow(scene, cam, 0, 1, clip.depth[0], inst[0].astype(np.int64)), flow[0])
    with pytest.raises(ValueError, match="ids must lie in"):
        frame_flow(scene, cam, 0, 1, clip.depth[0], inst[0].astype(np.int64) - 1)
    with pytest.raises(ValueError, match="instance is"):
        frame_flow(scene, cam, 0, 1, clip.depth[0], inst[0, :10])
