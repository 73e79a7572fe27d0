"""CARLA backend: image conversions against CARLA's documented encodings, instance-id reconciliation, frame
matching, port allocation, server supervision and clip retries. One test needs a live server (SDG_CARLA_HOST)."""
from __future__ import annotations

import os
import socket
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from sdg.carla.backend import CarlaSimulationError, CarlaSimulator, SensorQueues, SensorTimeout
from sdg.carla.convert import (
    bgra_image,
    depth_from_bgra,
    depth_to_bgra,
    instance_from_bgra,
    normals_from_bgra,
    normals_from_depth,
    normals_to_bgra,
    rgb_from_bgra,
    semantic_from_bgra,
)
from sdg.carla.instances import match_sim_actors, projected_rects, reconcile_instances
from sdg.carla.server import CarlaServerProcess, Ports, allocate_ports, format_command, port_free
from sdg.geometry import SKY_DEPTH, Camera
from sdg.model import SensorClip
from sdg.scene import Actor, GroundMap, Scene
from sdg.tags import TAG


# ------------------------------------------------------------------------------------------ conversions
def test_rgb_from_bgra_raw_bytes():
    raw = bytes([10, 20, 30, 255, 1, 2, 3, 255, 0, 0, 0, 0, 200, 100, 50, 7])  # 2x2 BGRA
    bgra = bgra_image(raw, 2, 2)
    rgb = rgb_from_bgra(bgra)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert rgb.tolist() == [[[30, 20, 10], [3, 2, 1]], [[0, 0, 0], [50, 100, 200]]]
    with pytest.raises(ValueError, match="16 bytes, expected 3x2x4 = 24"):
        bgra_image(raw, 3, 2)


def test_depth_decoding_matches_carla_formula():
    # pixels (R, G, B): documented normalized = (R + G*256 + B*256^2) / (256^3 - 1), metres = 1000 * normalized
    rgb = np.array([[(0, 0, 0), (255, 255, 255), (1, 0, 0)], [(0, 1, 0), (0, 0, 1), (17, 42, 3)]], np.uint8)
    bgra = np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    d = depth_from_bgra(bgra)
    assert d.dtype == np.float32 and d.shape == (2, 3)
    want = [[0.0, 1000.0, 1000 / 16777215], [1000 * 256 / 16777215, 1000 * 65536 / 16777215,
                                               1000 * (17 + 42 * 256 + 3 * 65536) / 16777215]]
    np.testing.assert_allclose(d, want, rtol=1e-6)
    assert d[0, 1] == SKY_DEPTH
    # far depths keep their precision (no uint16 overflow at 65.5 m): round trip within one code step (~60 um)
    metres = np.array([0.5, 12.345, 65.6, 120.0, 999.0])
    np.testing.assert_allclose(depth_from_bgra(depth_to_bgra(metres)), metres, atol=1000 / 16777215)


def test_semantic_and_instance_channels():
    bgra = np.zeros((1, 3, 4), np.uint8)
    bgra[0, 0] = (0x12, 0x34, TAG["car"], 255)  # B, G, R
    bgra[0, 1] = (0x00, 0x07, TAG["pedestrian"], 255)
    bgra[0, 2] = (0xFF, 0xFF, TAG["road"], 255)
    assert semantic_from_bgra(bgra).tolist() == [[14, 12, 1]]
    tags, ids = instance_from_bgra(bgra)
    assert tags.tolist() == [[14, 12, 1]]
    assert ids.dtype == np.uint32 and ids.tolist() == [[0x34 + 256 * 0x12, 7, 65535]]


def test_normals_decoding_to_opencv_axes():
    # Unreal camera axes: x forward, y right, z up. Encoded (n + 1) / 2 * 255 in R, G, B.
    def enc(n_ue):
        rgb = np.rint((np.asarray(n_ue, float) + 1) / 2 * 255).astype(np.uint8)
        return np.array([rgb[2], rgb[1], rgb[0], 255], np.uint8)  # BGRA

    bgra = np.stack([enc([-1, 0, 0]), enc([0, 0, 1]), enc([0, 1, 0]), enc([0, 0, 0])])[None]
    n = normals_from_bgra(bgra)
    assert n.dtype == np.float32 and n.shape == (1, 4, 3)
    # facing the camera (-x_ue) -> -z_cv; up (+z_ue) -> -y_cv; right (+y_ue) -> +x_cv; zero code -> 0
    np.testing.assert_allclose(n[0, 0], [0, 0, -1], atol=0.01)
    np.testing.assert_allclose(n[0, 1], [0, -1, 0], atol=0.01)
    np.testing.assert_allclose(n[0, 2], [1, 0, 0], atol=0.01)
    np.testing.assert_array_equal(n[0, 3], [0, 0, 0])
    np.testing.assert_allclose(np.linalg.norm(n[0, :3], axis=-1), 1.0, atol=1e-6)
    # sky (depth 1000 m) -> 0; round trip of random unit normals within the 8-bit step
    assert np.all(normals_from_bgra(bgra, depth=np.full((1, 4), SKY_DEPTH)) == 0)
    rng = np.random.default_rng(1)
    v = rng.normal(size=(50, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(normals_from_bgra(normals_to_bgra(v)), v, atol=0.01)


def test_normals_from_depth_of_a_tilted_plane():
    cam = Camera("c", 64, 48, 90.0, (0.0, 0.0, 5.0), (0.0, -30.0, 0.0))
    origin, dirs, zpu = cam.pixel_rays()
    t = -origin[2] / dirs[..., 2]  # ground z = 0 hit distance
    depth = (t * zpu).astype(np.float32)
    n = normals_from_depth(depth, cam.K)
    want = cam.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(n[10:-10, 10:-10].reshape(-1, 3), np.tile(want, (28 * 44, 1)), atol=1e-4)


# ------------------------------------------------------------------------------------------ instance ids
def _scene_two_cars() -> tuple[Scene, Camera]:
    ground = GroundMap(-50, -50, 1.0, np.ones((100, 100), np.uint8), np.zeros((100, 100, 3), np.uint8))
    cars = [Actor(i, "vehicle.audi.tt", "car", np.array([4.2, 2.0, 1.4]),
                  np.array([[20.0, y, 0.0, 0.0, 0.0, 0.0]] * 2), box_offset=np.array([0, 0, 0.7]))
            for i, y in ((41, -4.0), (42, 4.0))]
    ped = Actor(43, "walker.pedestrian.0001", "pedestrian", np.array([0.4, 0.4, 1.8]),
                np.array([[15.0, 0.0, 0.9, 0, 0, 0]] * 2))
    scene = Scene("two", "Town03", np.array([0.0, 0.1]), ground, actors=cars + [ped], source="recording:x.log")
    return scene, Camera("c", 160, 90, 90.0, (0.0, 0.0, 2.0), (0.0, 0.0, 0.0))


def _paint(scene, cam, raw_of: dict[int, int], tag_of: dict[int, int]):
    ids = np.zeros((cam.height, cam.width), np.uint32)
    tags = np.full((cam.height, cam.width), TAG["road"], np.uint8)
    for aid, r in projected_rects(scene, cam, 0).items():
        u0, v0, u1, v1 = (int(round(x)) for x in r)
        ids[v0:v1, u0:u1] = raw_of[aid]
        tags[v0:v1, u0:u1] = tag_of[aid]
    return ids, tags


def test_instances_kept_when_ids_are_actor_ids():
    scene, cam = _scene_two_cars()
    ids, tags = _paint(scene, cam, {41: 41, 42: 42, 43: 43}, {41: 14, 42: 14, 43: 12})
    ids[0:5, 0:5], tags[0:5, 0:5] = 999, TAG["building"]  # static scenery with its own id -> 0
    out, rep = reconcile_instances(ids, tags, scene, cam, 0)
    assert rep == {"segments": 3, "by_id": 3, "by_projection": 0, "unmatched": 0}
    np.testing.assert_array_equal(out, np.where(np.isin(ids, [41, 42, 43]), ids, 0))


def test_instances_matched_by_projection_when_ids_disagree():
    scene, cam = _scene_two_cars()
    # CARLA-style foreign ids (#4938): nothing equals an actor id
    ids, tags = _paint(scene, cam, {41: 7001, 42: 7002, 43: 7003}, {41: 14, 42: 14, 43: 12})
    out, rep = reconcile_instances(ids, tags, scene, cam, 0)
    assert rep == {"segments": 3, "by_id": 0, "by_projection": 3, "unmatched": 0}
    np.testing.assert_array_equal(out[ids == 7001], 41)
    np.testing.assert_array_equal(out[ids == 7002], 42)
    np.testing.assert_array_equal(out[ids == 7003], 43)
    # an id that names the WRONG actor (41's pixels labelled 42) is corrected too
    ids2, tags2 = _paint(scene, cam, {41: 42, 42: 41, 43: 43}, {41: 14, 42: 14, 43: 12})
    out2, rep2 = reconcile_instances(ids2, tags2, scene, cam, 0)
    assert rep2["by_projection"] == 2 and rep2["by_id"] == 1
    rects = projected_rects(scene, cam, 0)
    u = int(rects[41][0]) + 2
    v = int((rects[41][1] + rects[41][3]) / 2)
    assert out2[v, u] == 41


def test_instances_through_simulator_id_mapping():
    scene, cam = _scene_two_cars()
    sim = [(501, "vehicle.audi.tt", (20.1, 4.0, 0.0)), (500, "vehicle.audi.tt", (20.0, -4.1, 0.0)),
           (502, "walker.pedestrian.0001", (15.0, 0.05, 0.9)), (503, "vehicle.audi.tt", (80.0, 0.0, 0.0))]
    mapping = match_sim_actors(sim, scene, 0)
    assert mapping == {500: 41, 501: 42, 502: 43}
    ids, tags = _paint(scene, cam, {41: 500, 42: 501, 43: 502}, {41: 14, 42: 14, 43: 12})
    out, rep = reconcile_instances(ids, tags, scene, cam, 0, mapping)
    assert rep["by_id"] == 3
    assert set(np.unique(out)) == {0, 41, 42, 43}


# ------------------------------------------------------------------------------------------ frame matching
def test_sensor_queues_match_by_frame_not_arrival_order():
    sq = SensorQueues(["rgb", "depth"])
    img = lambda f, tag: SimpleNamespace(frame=f, tag=tag)  # noqa: E731
    put_rgb, put_depth = sq.callback("rgb"), sq.callback("depth")
    # depth arrives late and out of order; a stale rgb frame is in the queue
    put_rgb(img(4, "stale"))
    put_rgb(img(5, "rgb5"))
    put_depth(img(6, "depth6"))
    threading.Timer(0.05, lambda: put_depth(img(5, "depth5"))).start()
    got = sq.collect(5, timeout=2.0)
    assert got["rgb"].tag == "rgb5" and got["depth"].tag == "depth5"
    put_rgb(img(6, "rgb6"))
    got = sq.collect(6, timeout=1.0)  # depth 6 was kept for its own tick
    assert got["depth"].tag == "depth6" and got["rgb"].tag == "rgb6"
    with pytest.raises(SensorTimeout, match=r"sensor 'rgb': no image for frame 7 within 0\.1 s"):
        sq.collect(7, timeout=0.1)


# ------------------------------------------------------------------------------------------ ports & servers
def test_allocate_ports_blocks_do_not_collide():
    ps = allocate_ports(3, base=2000, check=False)
    assert ps == [Ports(2000, 2001, 2003), Ports(2004, 2005, 2007), Ports(2008, 2009, 2011)]
    flat = [p for t in ps for p in (t.rpc, t.streaming, t.rpc + 2, t.tm)]
    assert len(set(flat)) == len(flat)
    with pytest.raises(ValueError, match="base port 80"):
        allocate_ports(1, base=80)
    with pytest.raises(RuntimeError, match="only 1 of 2 free port blocks between 65531"):
        allocate_ports(2, base=65535 - 4, check=False)


def test_allocate_ports_skips_ports_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        base = busy - 1 if busy > 1025 else busy + 1
        ps = allocate_ports(2, base=base)
        used = [p for t in ps for p in range(t.rpc, t.rpc + 4)]
        assert busy not in used
        assert all(port_free(p) for p in used)
        if base == busy - 1:
            assert ps[0].rpc == base + 4


def test_format_command():
    argv = format_command("/opt/carla/CarlaUE4.sh -RenderOffScreen -carla-rpc-port={port} "
                          "-carla-streaming-port={port+1} -graphicsadapter={gpu} --tm {tm_port}",
                          Ports(2004, 2005, 2007), gpu=1)
    assert argv == ["/opt/carla/CarlaUE4.sh", "-RenderOffScreen", "-carla-rpc-port=2004",
                    "-carla-streaming-port=2005", "-graphicsadapter=1", "--tm", "2007"]


FAKE_SERVER = (f"{sys.executable} -c \"import socket,time; s=socket.socket(); "
               "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); "
               "s.listen(); time.sleep(60)\"")


def test_server_process_start_stop_restart(tmp_path):
    ports = allocate_ports(1, base=23000)[0]
    srv = CarlaServerProcess(FAKE_SERVER, ports, start_timeout=20, log_dir=tmp_path)
    srv.start()
    try:
        assert srv.alive() and srv.starts == 1
        socket.create_connection(("127.0.0.1", ports.rpc), timeout=2).close()
        srv.proc.kill()  # the server dies
        srv.proc.wait(5)
        assert not srv.alive()
        srv.start()
        assert srv.alive() and srv.starts == 2
    finally:
        srv.stop()
    assert not srv.alive() and srv.proc is None


def test_server_process_that_exits_is_reported(tmp_path):
    ports = allocate_ports(1, base=23100)[0]
    srv = CarlaServerProcess(f"{sys.executable} -c \"import sys; sys.exit(3)\"", ports, start_timeout=20,
                             log_dir=tmp_path)
    with pytest.raises(RuntimeError, match=r"exited with code 3 before listening .* see .*carla-23100\.log"):
        srv.start()


# ------------------------------------------------------------------------------------------ retries
class _Flaky(CarlaSimulator):
    """The real retry loop of CarlaSimulator.simulate around a clip body that fails `fails` times."""

    def __init__(self, fails: int, **kw):
        super().__init__(tm_port=1, **kw)
        self.fails, self.calls = fails, 0

    def _simulate_once(self, scene, camera, idx, path):
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError(f"time-out of 20000ms while waiting for the simulator (call {self.calls})")
        T, h, w = len(idx), camera.height, camera.width
        z = np.zeros((T, h, w), np.float32)
        return SensorClip(np.zeros((T, h, w, 3), np.uint8), z, z.astype(np.uint8), z.astype(np.uint32),
                          np.zeros((T, h, w, 3), np.float32), scene.times[idx], idx, {"simulator": "carla"})


def test_clip_retried_after_server_failure():
    scene, cam = _scene_two_cars()
    sim = _Flaky(fails=2, retries=2)
    clip = sim.simulate(scene, cam, [0, 1], log_path="/x.log")
    assert sim.calls == 3 and clip.provenance["attempts"] == 3
    assert len(clip.provenance["retried_after"]) == 2 and "call 2" in clip.provenance["retried_after"][1]
    sim = _Flaky(fails=5, retries=1)
    with pytest.raises(CarlaSimulationError, match=r"2 attempts on CARLA 127\.0\.0\.1:2000 failed; last: "
                                                   r"RuntimeError: time-out .*call 2"):
        sim.simulate(scene, cam, [0], log_path="/x.log")
    assert sim.calls == 2


def test_simulate_rejects_bad_requests():
    scene, cam = _scene_two_cars()
    sim = CarlaSimulator(tm_port=1)
    with pytest.raises(ValueError, match="must increase"):
        sim.simulate(scene, cam, [1, 0], log_path="/x.log")
    with pytest.raises(CarlaSimulationError, match="pass log_path"):
        sim.simulate(scene, cam, [0])
    scene.source = "builtin"
    with pytest.raises(CarlaSimulationError, match="replays recordings only"):
        sim.simulate(scene, cam, [0])


# ------------------------------------------------------------------------------------------ live server
@pytest.mark.carla
@pytest.mark.skipif(not os.environ.get("SDG_CARLA_HOST"), reason="needs a CARLA 0.9.16 server: set "
                    "SDG_CARLA_HOST=host:port (and SDG_CARLA_LOG_DIR if the server cannot read /tmp)")
def test_live_replay_of_generated_log(tmp_path):
    from sdg.carla.writer import scene_to_recording

    host, port = os.environ["SDG_CARLA_HOST"].rsplit(":", 1)
    times = np.arange(6) * 0.1
    ground = GroundMap(0, 0, 1.0, np.zeros((1, 1), np.uint8), np.zeros((1, 1, 3), np.uint8))
    # Town10HD_Opt: a car driving along x near the map centre, filmed from 12 m behind and above it
    car = Actor(1, "vehicle.tesla.model3", "car", np.array([4.79, 2.16, 1.49]),
                np.c_[np.linspace(-45, -42, 6), np.full(6, 24.5), np.full(6, 0.1), np.zeros((6, 3))],
                box_offset=np.array([0, 0, 0.745]))
    scene = Scene("live", "Town10HD_Opt", times, ground, actors=[car], source="recording:live.log")
    log_dir = os.environ.get("SDG_CARLA_LOG_DIR", str(tmp_path))
    path = scene_to_recording(scene, os.path.join(log_dir, "live.log"))
    cam = Camera("c", 320, 180, 90.0, (-58.0, 24.5, 6.0), (0.0, -15.0, 0.0))
    sim = CarlaSimulator(host=host, port=int(port), retries=1)
    try:
        clip = sim.simulate(scene, cam, [1, 2, 3, 4], log_path=path)
    finally:
        sim.close()
    assert clip.rgb.shape == (4, 180, 320, 3) and clip.depth.dtype == np.float32
    assert np.all(np.diff(clip.provenance["frames"]) == 1)  # consecutive ticks, matched by frame number
    assert 0.5 < float(np.median(clip.depth)) <= SKY_DEPTH
    assert clip.provenance["simulator"] == "carla"
    assert set(np.unique(clip.instance)) <= {0, 1}  # only the scene's actor id survives reconciliation


# ------------------------------------------------------------------------------------------ orchestration
class _ScriptedCarla:
    """A scripted stand-in for the few `carla` client calls CarlaSimulator makes, to check the orchestration
    (settings, sensor set-up, replay arguments, frame matching with late/out-of-order/stale images, conversion,
    clean-up). It renders nothing: every image is synthesised from the scene's projected boxes."""

    def __init__(self, scene, cam, sim_ids):
        self.scene, self.cam, self.sim_ids = scene, cam, sim_ids
        self.calls, self.frame, self.sensors = [], 100, []
        self.settings = SimpleNamespace(synchronous_mode=False, fixed_delta_seconds=None)
        mod = self

        class Transform:
            def __init__(self, loc, rot):
                self.location, self.rotation = loc, rot

        self.Transform = Transform
        self.Location = lambda x, y, z: (x, y, z)
        self.Rotation = lambda pitch, yaw, roll: (pitch, yaw, roll)

        class Client:
            def __init__(self, host, port):
                mod.calls.append(("client", host, port))

            def set_timeout(self, t): pass
            def get_server_version(self): return "0.9.16"
            def get_client_version(self): return "0.9.16"
            def get_world(self): return mod.world
            def load_world(self, name):
                mod.calls.append(("load_world", name))
                return mod.world

            def get_trafficmanager(self, port):
                mod.calls.append(("tm", port))
                return SimpleNamespace(set_synchronous_mode=lambda v: mod.calls.append(("tm_sync", v)))

            def set_replayer_ignore_spectator(self, v): pass
            def replay_file(self, name, start, duration, follow, sensors):
                mod.calls.append(("replay", name, round(start, 6), round(duration, 6), follow, sensors))
                return "Replaying File: " + name

            def stop_replayer(self, keep):
                mod.calls.append(("stop_replayer", keep))

        self.Client = Client
        self.world = SimpleNamespace(
            get_map=lambda: SimpleNamespace(name="Carla/Maps/Town10HD_Opt"),
            get_settings=lambda: SimpleNamespace(**vars(mod.settings)),
            apply_settings=lambda s: setattr(mod, "settings", s),
            get_blueprint_library=lambda: SimpleNamespace(
                filter=lambda pat: [pat], find=lambda name: _Blueprint(name)),
            spawn_actor=self._spawn, tick=self._tick, get_actors=self._actors)

    def _spawn(self, bp, tf):
        s = _Sensor(bp)
        self.sensors.append(s)
        self.calls.append(("spawn", bp.id, tf.location, tf.rotation, dict(bp.attrs)))
        return s

    def _actors(self):
        k = 1
        out = []
        for sid, a in zip(self.sim_ids, self.scene.actors):
            loc = a.poses[k, :3]
            out.append(SimpleNamespace(id=sid, type_id=a.type_id,
                                       get_location=lambda loc=loc: SimpleNamespace(x=loc[0], y=loc[1], z=loc[2])))
        return out

    def _images(self, frame):
        h, w = self.cam.height, self.cam.width
        ids = np.zeros((h, w), np.uint32)
        tags = np.full((h, w), TAG["road"], np.uint8)
        for sid, (aid, r) in zip(self.sim_ids, projected_rects(self.scene, self.cam, 1).items()):
            u0, v0, u1, v1 = (int(round(x)) for x in r)
            ids[v0:v1, u0:u1] = sid
            tags[v0:v1, u0:u1] = TAG["pedestrian"] if aid == 43 else TAG["car"]
        inst = np.zeros((h, w, 4), np.uint8)
        inst[..., 2], inst[..., 1], inst[..., 0] = tags, ids & 0xFF, ids >> 8
        sem = inst.copy()
        sem[..., :2] = 0
        rgb = np.full((h, w, 4), frame % 256, np.uint8)
        return {"sensor.camera.rgb": rgb, "sensor.camera.depth": depth_to_bgra(np.full((h, w), 12.5)),
                "sensor.camera.semantic_segmentation": sem, "sensor.camera.instance_segmentation": inst,
                "sensor.camera.normals": normals_to_bgra(np.tile([0.0, 0.0, -1.0], (h, w, 1)))}

    def _tick(self, timeout):
        self.frame += 1
        f = self.frame
        imgs = self._images(f)
        for i, s in enumerate(reversed(self.sensors)):  # out of order, some late, one stale image first
            mk = lambda fr, bp=s.bp.id: SimpleNamespace(frame=fr, raw_data=imgs[bp].tobytes())  # noqa: E731
            if i == 0:
                s.cb(mk(f - 1))
            if i % 2:
                threading.Timer(0.02, s.cb, (mk(f),)).start()
            else:
                s.cb(mk(f))
        return f


class _Blueprint:
    def __init__(self, name):
        self.id, self.attrs = name, {}

    def has_attribute(self, key):
        return key != "motion_blur_intensity" or self.id == "sensor.camera.rgb"

    def set_attribute(self, key, val):
        self.attrs[key] = val


class _Sensor:
    def __init__(self, bp):
        self.bp, self.cb, self.destroyed = bp, None, False

    def listen(self, cb):
        self.cb = cb

    def stop(self):
        pass

    def destroy(self):
        self.destroyed = True


def test_simulate_orchestration_with_scripted_client(tmp_path, monkeypatch):
    import sdg.carla.backend as backend
    from sdg.carla.writer import scene_to_recording

    scene, cam = _scene_two_cars()
    scene.times = np.array([5.0, 5.1, 5.2, 5.3])
    for a in scene.actors:
        a.poses = np.repeat(a.poses[:1], 4, axis=0)
    log = scene_to_recording(scene, tmp_path / "x.log")
    fake = _ScriptedCarla(scene, cam, [900, 901, 902])
    monkeypatch.setattr(backend, "_carla", lambda: fake)
    sim = CarlaSimulator(host="10.0.0.5", port=2010, tm_port=2013, sensor_timeout=5)
    clip = sim.simulate(scene, cam, [1, 2, 3], log_path=log)
    # settings: synchronous, fixed step 1/fps; the map of the log is loaded; sensors at the camera pose
    assert fake.settings.synchronous_mode is True and fake.settings.fixed_delta_seconds == pytest.approx(0.1)
    assert ("load_world", "Town03") in fake.calls
    assert ("tm", 2013) in fake.calls and ("tm_sync", True) in fake.calls
    spawns = [c for c in fake.calls if c[0] == "spawn"]
    assert [c[1] for c in spawns] == list(backend.SENSORS.values())
    assert all(c[2] == (0.0, 0.0, 2.0) and c[3] == (0.0, 0.0, 0.0) for c in spawns)
    assert spawns[0][4] == {"image_size_x": "160", "image_size_y": "90", "fov": "90.0", "sensor_tick": "0.0",
                            "motion_blur_intensity": "0.0"}
    # replay from one tick before the first frame, follow id 0, no recorded sensors; three ticks
    (rp,) = [c for c in fake.calls if c[0] == "replay"]
    assert rp == ("replay", str(log), 5.0, 0.5, 0, False)  # duration: to the last frame + 2 ticks
    assert clip.provenance["frames"] == [101, 102, 103] and clip.provenance["replay_start"] == pytest.approx(5.0)
    # images matched by frame number (stale/late/out-of-order deliveries) and converted
    assert clip.rgb.shape == (3, 90, 160, 3) and clip.rgb[:, 0, 0, 0].tolist() == [101, 102, 103]
    np.testing.assert_allclose(clip.depth, 12.5, atol=1e-4)
    np.testing.assert_allclose(clip.normals[0, 0, 0], [0, 0, -1], atol=0.01)
    # simulator ids 900..902 mapped to the scene's actor ids by position, then checked against the projections
    assert set(np.unique(clip.instance)) == {0, 41, 42, 43}
    assert clip.provenance["instance_ids"] == "actor_id" and clip.provenance["actors_matched"] == 3
    assert set(clip.semantic[0][clip.instance[0] == 43].tolist()) == {TAG["pedestrian"]}
    np.testing.assert_allclose(clip.times, [5.1, 5.2, 5.3])
    assert ("stop_replayer", False) in fake.calls and all(s.destroyed for s in fake.sensors)
