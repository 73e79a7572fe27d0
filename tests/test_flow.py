import numpy as np

from sdg.geometry import SKY_DEPTH, Camera
from sdg.groundtruth.flow import clip_flow, flow_visual, warp_backward
from sdg.render import render_clip
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
