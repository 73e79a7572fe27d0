"""The CARLA simulator backend: replays a recording on a CARLA 0.9.16 server and films it with five cameras.

`CarlaSimulator` is a plain class usable as a Ray actor (the pipeline wraps it with `ray.remote(num_gpus=...)`).
One instance owns one connection to one server (and, with a server command, the server process itself). For a clip
it: loads the recording's map if needed; sets synchronous mode with fixed_delta_seconds = 1/fps (sensor_tick 0, so
every tick yields one image per sensor, CARLA #3653/#6240); spawns rgb, depth, semantic, instance and normals
cameras with one pose; `client.replay_file(log, start, duration, follow_id=0)`; ticks; takes each sensor's image
whose `image.frame` equals the tick's frame (never arrival order, with a timeout); converts them (sdg.carla.convert)
and maps instance ids to the scene's actor ids (sdg.carla.instances). A clip whose server dies or times out is
retried a bounded number of times, restarting a supervised server.

Timing: the replayer applies `start` at once and advances by fixed_delta_seconds at every tick before the cameras
render, so the image of tick j shows recording time start + (j + 1) * dt; we replay from t0 - dt so tick 0 shows
t0 = scene.times[frame_indices[0]] (for t0 < dt the clip starts at dt late and provenance records the offset).
Scene times of recordings are seconds of the recording (sdg.scenario.replay).
"""
from __future__ import annotations

import logging
import os
import queue
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from sdg.carla.convert import (
    bgra_image,
    depth_from_bgra,
    instance_from_bgra,
    normals_from_bgra,
    normals_from_depth,
    rgb_from_bgra,
    semantic_from_bgra,
)
from sdg.carla.instances import match_sim_actors, reconcile_instances
from sdg.carla.recorder import read_header
from sdg.carla.server import PORT_STRIDE, CarlaServerProcess, Ports, port_free
from sdg.geometry import Camera
from sdg.model import SensorClip
from sdg.scene import Scene
from sdg.verdict import Verdict

log = logging.getLogger(__name__)

SENSORS = {
    "rgb": "sensor.camera.rgb",
    "depth": "sensor.camera.depth",
    "semantic": "sensor.camera.semantic_segmentation",
    "instance": "sensor.camera.instance_segmentation",
    "normals": "sensor.camera.normals",
}


class CarlaSimulationError(RuntimeError):
    """A clip could not be simulated on the CARLA server (after the allowed retries)."""


class SensorTimeout(RuntimeError):
    """A sensor did not deliver the image of a tick in time."""


class SensorQueues:
    """Images arriving on CARLA's callback threads, collected per tick by frame number."""

    def __init__(self, names: Sequence[str]):
        self.queues: dict[str, queue.Queue] = {n: queue.Queue() for n in names}
        self.early: dict[str, dict[int, object]] = {n: {} for n in names}

    def callback(self, name: str):
        q = self.queues[name]
        return q.put

    def collect(self, frame: int, timeout: float) -> dict[str, object]:
        """The image of every sensor whose `.frame` equals `frame`. Older images are dropped, newer ones kept for
        their own tick. Raises SensorTimeout naming the sensor and the frames it did deliver."""
        deadline = time.monotonic() + timeout
        out = {}
        for name, q in self.queues.items():
            early = self.early[name]
            for f in [f for f in early if f < frame]:
                del early[f]
            if frame in early:
                out[name] = early.pop(frame)
                continue
            seen = []
            while True:
                remaining = deadline - time.monotonic()
                try:
                    img = q.get(timeout=max(remaining, 0.0)) if remaining > 0 else q.get_nowait()
                except queue.Empty:
                    raise SensorTimeout(f"sensor {name!r}: no image for frame {frame} within {timeout:.1f} s "
                                        f"(received frames {seen[-5:]})") from None
                f = int(img.frame)
                seen.append(f)
                if f == frame:
                    out[name] = img
                    break
                if f > frame:
                    early[f] = img
        return out


def _carla():
    import carla  # noqa: PLC0415 (imported lazily: only this backend needs the client library)

    return carla


def _map_basename(name: str) -> str:
    return name.replace("\\", "/").rstrip("/").split("/")[-1]


def _parse_host(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"CARLA host {hostport!r} must look like 'host:port', e.g. '127.0.0.1:2000'")
    return host, int(port)


class CarlaSimulator:
    """Simulator backend "carla" (see module docstring). Arguments:

    host, port       the server's RPC endpoint;
    timeout          client RPC timeout (s);
    server_command   optional command template to start and supervise a local server ({port}, {port+1},
                     {streaming_port}, {tm_port}, {gpu} substituted);
    tm_port          Traffic Manager port (default: the first free port from port + 3);
    retries          extra attempts per clip after a failure;
    sensor_timeout   seconds to wait for one tick's images;
    log_dir          directory (as the SERVER sees it) of recordings named by scene.source "recording:<name>";
                     default: the local path given to simulate() is used as is (local or shared file systems).
    """

    name = "carla"

    def __init__(self, host: str = "127.0.0.1", port: int = 2000, timeout: float = 20.0,
                 server_command: str | None = None, tm_port: int | None = None, gpu: int | str | None = None,
                 retries: int = 2, sensor_timeout: float = 30.0, log_dir: str | None = None):
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.retries, self.sensor_timeout, self.log_dir = int(retries), float(sensor_timeout), log_dir
        self.tm_port = tm_port if tm_port is not None else self._free_port_from(self.port + 3)
        self.server = None
        if server_command:
            self.server = CarlaServerProcess(server_command, Ports(self.port, self.port + 1, self.tm_port),
                                             host=host if host not in ("localhost",) else "127.0.0.1", gpu=gpu,
                                             start_timeout=max(120.0, self.timeout))
        self._client = None
        self._sensors: list = []
        self._original_settings = None
        self.attempts_log: list[str] = []

    @classmethod
    def from_endpoint(cls, endpoint, index: int = 0, **kw) -> "CarlaSimulator":
        """Build from a sdg.config.CarlaEndpoint: the index-th host of `endpoint.hosts`."""
        host, port = _parse_host(endpoint.hosts[index % len(endpoint.hosts)])
        return cls(host=host, port=port, timeout=endpoint.timeout, server_command=endpoint.server_command, **kw)

    @staticmethod
    def _free_port_from(p: int) -> int:
        while p < 65535 and not port_free(p):
            p += 1
        return p

    # ----------------------------------------------------------------------------------------- connection
    def _connect(self):
        if self._client is None:
            carla = _carla()
            if self.server is not None and not self.server.alive():
                self.server.start()
            client = carla.Client(self.host, self.port)
            client.set_timeout(self.timeout)
            client.get_server_version()  # fails fast when nothing answers
            self._client = client
        return self._client

    def close(self) -> None:
        """Destroy our sensors, restore the world's settings, stop the replayer and a supervised server."""
        try:
            if self._client is not None:
                self._destroy_sensors()
                try:
                    self._client.stop_replayer(False)
                except RuntimeError:
                    pass
                if self._original_settings is not None:
                    try:
                        self._client.get_world().apply_settings(self._original_settings)
                    except RuntimeError:
                        pass
        finally:
            self._client = None
            self._original_settings = None
            if self.server is not None:
                self.server.stop()

    def _destroy_sensors(self) -> None:
        for s in self._sensors:
            try:
                s.stop()
                s.destroy()
            except RuntimeError:
                pass
        self._sensors = []

    # ----------------------------------------------------------------------------------------- simulate
    def _log_path(self, scene: Scene, log_path: str | os.PathLike | None) -> str:
        if log_path is not None:
            return str(log_path)
        if not scene.source.startswith("recording:"):
            raise CarlaSimulationError(
                f"scene {scene.name!r} has source {scene.source!r}: the CARLA backend replays recordings only "
                "(use simulator 'builtin' for built-in scenarios, or export the scene with "
                "sdg.carla.writer.scene_to_recording and pass log_path)")
        name = scene.source.split(":", 1)[1]
        if self.log_dir is None and scene.source_path:
            return str(scene.source_path)  # the server reads the same (local or shared) file system
        if self.log_dir is None:
            raise CarlaSimulationError(f"scene {scene.name!r}: pass log_path=... or construct CarlaSimulator with "
                                       f"log_dir=<folder of {name} on the server>")
        return str(Path(self.log_dir) / name)

    def simulate(self, scene: Scene, camera: Camera, frame_indices: Sequence[int],
                 log_path: str | os.PathLike | None = None) -> SensorClip:
        """Replay the scene's recording and film frames `frame_indices` (indices into scene.times, increasing)."""
        idx = np.asarray(list(frame_indices), np.int64)
        if idx.size == 0:
            raise ValueError("simulate: frame_indices is empty")
        if np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= len(scene.times):
            raise ValueError(f"simulate: frame_indices must increase within 0..{len(scene.times) - 1}, got "
                             f"{idx.tolist()[:8]}...")
        path = self._log_path(scene, log_path)
        errors: list[str] = []
        for attempt in range(self.retries + 1):
            try:
                clip = self._simulate_once(scene, camera, idx, path)
                clip.provenance["attempts"] = attempt + 1
                if errors:
                    clip.provenance["retried_after"] = errors
                return clip
            except (RuntimeError, SensorTimeout) as e:
                if isinstance(e, CarlaSimulationError):
                    raise
                errors.append(f"{type(e).__name__}: {e}")
                log.warning("CARLA %s:%d clip attempt %d failed: %s", self.host, self.port, attempt + 1, e)
                self._destroy_sensors_quietly()
                self._client = None
                if self.server is not None and not self.server.alive():
                    log.warning("CARLA server on port %d died; restarting it", self.port)
        raise CarlaSimulationError(
            f"scene {scene.name!r}: {self.retries + 1} attempts on CARLA {self.host}:{self.port} failed; last: "
            f"{errors[-1]}. Check that the server runs (and has the map), that {path} exists on the server, "
            "and the server log" + (f" {self.server.log_path}" if self.server is not None else ""))

    def _destroy_sensors_quietly(self) -> None:
        try:
            self._destroy_sensors()
        except Exception:  # noqa: BLE001 (the connection may already be gone)
            self._sensors = []

    def _simulate_once(self, scene: Scene, camera: Camera, idx: np.ndarray, path: str) -> SensorClip:
        carla = _carla()
        client = self._connect()
        world = client.get_world()
        try:
            want_map = _map_basename(read_header(path).map_name)
        except OSError:
            want_map = None  # the file lives on the server only; the replayer loads the map itself
        if want_map and _map_basename(world.get_map().name) != want_map:
            world = client.load_world(want_map)
        dt = 1.0 / scene.fps
        if self._original_settings is None:
            self._original_settings = world.get_settings()
        settings = world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = dt
        world.apply_settings(settings)
        client.get_trafficmanager(self.tm_port).set_synchronous_mode(True)
        client.set_replayer_ignore_spectator(True)

        w, h = int(camera.width), int(camera.height)
        lib = world.get_blueprint_library()
        names = [n for n in SENSORS if n != "normals" or len(lib.filter(SENSORS["normals"])) > 0]
        tf = carla.Transform(carla.Location(*map(float, camera.location)),
                             carla.Rotation(pitch=float(camera.rotation[1]), yaw=float(camera.rotation[2]),
                                            roll=float(camera.rotation[0])))
        sq = SensorQueues(names)
        self._destroy_sensors()
        for n in names:
            bp = lib.find(SENSORS[n])
            for key, val in (("image_size_x", w), ("image_size_y", h), ("fov", camera.fov), ("sensor_tick", 0.0),
                             ("motion_blur_intensity", 0.0)):
                if bp.has_attribute(key):
                    bp.set_attribute(key, str(val))
            s = world.spawn_actor(bp, tf)
            self._sensors.append(s)
            s.listen(sq.callback(n))

        t0, t1 = float(scene.times[idx[0]]), float(scene.times[idx[-1]])
        start = max(0.0, t0 - dt)
        offset = start + dt - t0  # > 0 only when t0 < dt
        ticks = int(idx[-1] - idx[0]) + 1
        msg = client.replay_file(str(path), start, (t1 - start) + 2 * dt, 0, False)
        if "not found" in msg or "Could not load" in msg:
            raise CarlaSimulationError(f"CARLA replay_file({path!r}) failed: {msg.strip()}")
        T = len(idx)
        rgb = np.zeros((T, h, w, 3), np.uint8)
        depth = np.zeros((T, h, w), np.float32)
        semantic = np.zeros((T, h, w), np.uint8)
        instance = np.zeros((T, h, w), np.uint32)
        normals = np.zeros((T, h, w, 3), np.float32)
        wanted = {int(i - idx[0]): j for j, i in enumerate(idx)}
        reports, mappings = [], {}
        frames_seen = []
        for j in range(ticks):
            frame = world.tick(self.timeout)
            if j not in wanted:
                sq.collect(frame, self.sensor_timeout)  # keep the queues in step
                continue
            out = wanted[j]
            k = int(idx[out])
            imgs = sq.collect(frame, self.sensor_timeout)
            frames_seen.append(int(frame))
            bgra = {n: bgra_image(imgs[n].raw_data, w, h) for n in names}
            rgb[out] = rgb_from_bgra(bgra["rgb"])
            depth[out] = depth_from_bgra(bgra["depth"])
            semantic[out] = semantic_from_bgra(bgra["semantic"])
            normals[out] = (normals_from_bgra(bgra["normals"], depth[out]) if "normals" in bgra
                            else normals_from_depth(depth[out], camera.K))
            _, raw_ids = instance_from_bgra(bgra["instance"])
            if not mappings:
                sim = [(a.id, a.type_id, (a.get_location().x, a.get_location().y, a.get_location().z))
                       for a in world.get_actors() if a.type_id.startswith(("vehicle.", "walker.", "traffic."))]
                mappings = match_sim_actors(sim, scene, k)
            instance[out], rep = reconcile_instances(raw_ids, semantic[out], scene, camera, k, mappings)
            reports.append(rep)
        client.stop_replayer(False)
        self._destroy_sensors()
        by_proj = sum(r["by_projection"] for r in reports)
        by_id = sum(r["by_id"] for r in reports)
        prov = {
            "simulator": "carla",
            "server": f"{self.host}:{self.port}",
            "server_version": client.get_server_version(),
            "client_version": client.get_client_version(),
            "map": _map_basename(world.get_map().name),
            "recording": str(path),
            "replay_start": start,
            "time_offset": offset,
            "fixed_delta_seconds": dt,
            "frames": frames_seen,
            "normals": "camera" if "normals" in names else "from_depth",
            "instance_ids": "actor_id" if by_proj == 0 else ("projection" if by_id == 0 else "mixed"),
            "instance_report": {k: sum(r[k] for r in reports) for k in ("segments", "by_id", "by_projection",
                                                                        "unmatched")},
            "actors_matched": len(mappings),
        }
        return SensorClip(rgb=rgb, depth=depth, semantic=semantic, instance=instance, normals=normals,
                          times=scene.times[idx].astype(np.float64), frame_indices=idx, provenance=prov)


# --------------------------------------------------------------------------------------------- pipeline glue
def _claim_slot(n_hosts: int) -> int:
    """Each simulator actor of a Ray Data pool claims the next host index from one named counter actor, so N
    actors spread over N CARLA servers. Outside Ray: 0."""
    try:
        import ray

        if not ray.is_initialized():
            return 0

        @ray.remote(num_cpus=0)
        class _Slots:
            def __init__(self):
                self.n = 0

            def next(self) -> int:
                self.n += 1
                return self.n - 1

        counter = _Slots.options(name="sdg_carla_slots", get_if_exists=True, lifetime=None).remote()
        return int(ray.get(counter.next.remote())) % max(1, n_hosts)
    except Exception:  # noqa: BLE001 - a counter is a convenience, never a reason to fail
        return 0


def _assigned_gpu():
    try:
        import ray

        ids = ray.get_gpu_ids() if ray.is_initialized() else []
        return ids[0] if ids else None
    except Exception:  # noqa: BLE001
        return None


def make_carla_simulator(cfg) -> CarlaSimulator:
    """The simulator of one pool actor. With listed servers: the actor's slot picks its host. With a
    server_command: the actor starts its own server on the slot's port block (RPC, streaming, Traffic Manager,
    PORT_STRIDE apart, so actors sharing a node never collide) and on the GPU Ray assigned to it."""
    ep = cfg.endpoints.carla
    if not ep.server_command:
        return CarlaSimulator.from_endpoint(ep, _claim_slot(len(ep.hosts)))
    slot = _claim_slot(1 << 12)
    host, base = _parse_host(ep.hosts[0])
    rpc = base + PORT_STRIDE * slot
    return CarlaSimulator(host=host, port=rpc, timeout=ep.timeout, server_command=ep.server_command,
                          tm_port=rpc + 3, gpu=_assigned_gpu())


def check_carla(cfg) -> list:
    """Preflight: each configured CARLA host answers with its server version (and it matches the client)."""
    ep = cfg.endpoints.carla
    out = []
    for hostport in ep.hosts:
        service = f"carla {hostport}"
        if ep.server_command:
            out.append(Verdict(service, True, "started and supervised by the simulator actor (server_command)"))
            continue
        try:
            carla = _carla()
            host, port = _parse_host(hostport)
            client = carla.Client(host, port)
            client.set_timeout(min(10.0, ep.timeout))
            server, client_v = client.get_server_version(), client.get_client_version()
            ok = server.split("-")[0] == client_v.split("-")[0]
            out.append(Verdict(service, ok, f"server {server}, client {client_v}",
                               "install the carla package matching the server version"))
        except Exception as e:  # noqa: BLE001
            out.append(Verdict(service, False, f"unreachable ({type(e).__name__}: {e})",
                               "start CarlaUE4.sh -RenderOffScreen -carla-rpc-port=<port> there, set "
                               "endpoints.carla.hosts, or set endpoints.carla.server_command"))
    return out
