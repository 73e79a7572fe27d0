"""A multi-node Ray cluster on this machine for tests: a head and worker nodes started with `ray start` as separate
processes, every one bound to 127.0.0.1, with token authentication (Ray 2.60), a private --temp-dir (so no other
``ray.init()`` on the machine finds and joins it) and ports of its own.

Each `ray start` runs in a new session; Ray's daemons and workers stay in it (they leave its process group, not its
session), so :meth:`RayNodes.stop` ends exactly the processes of the sessions it started, and nothing else.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_range(n: int = 100) -> tuple[int, int]:
    """A block of ``n`` ports that are free now (worker ports of one node)."""
    for _ in range(200):
        lo = random.randrange(30000, 60000 - n)
        if all(_free(p) for p in range(lo, lo + n, 7)):
            return lo, lo + n - 1
    raise RuntimeError("no free port range")


class RayNodes:
    def __init__(self, root: Path, env: dict | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Ray's socket paths live under --temp-dir and must stay under 107 bytes: a short private folder
        self.temp_dir = Path(tempfile.mkdtemp(prefix="sdg-ray-", dir="/tmp"))
        self.token_path = self.root / "auth_token"
        self.token_path.write_text(secrets.token_hex(32))  # the cluster's token, like ~/.ray/auth_token
        self.token_path.chmod(0o600)
        base = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
        self.env = {**base, **(env or {}),
                    "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",  # `sdg`, `python` of this environment
                    "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path),
                    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep 127.0.0.1 as the nodes' address
                    "RAY_USAGE_STATS_ENABLED": "0",
                    "AUTOSCALER_METRIC_PORT": str(free_port()), "DASHBOARD_METRIC_PORT": str(free_port())}
        self.sessions: list[int] = []
        self._taken: set[int] = {int(self.env["AUTOSCALER_METRIC_PORT"]), int(self.env["DASHBOARD_METRIC_PORT"])}
        self.gcs_port = self.dashboard_port = None
        self.logs: list[Path] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _start(self, argv: list[str], name: str) -> None:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        with open(log, "wb") as f:
            proc = subprocess.Popen(argv, env=self.env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.root)
            self.sessions.append(proc.pid)  # the session leader's pid is the session id
            rc = proc.wait(timeout=180)
        text = log.read_text()
        if rc != 0 and "timed out during startup" in text and self.pids():
            # `ray start` gives its raylet 30 s (hard-coded) to register; on a loaded machine it registers later
            # and the node joins all the same: wait_for_nodes() decides
            return
        if rc != 0:
            raise RuntimeError(f"{name}: {' '.join(argv[:3])} exited {rc}:\n{text[-3000:]}")

    def _port(self) -> int:
        """A free port no other component of this cluster was given (nor in a worker port range)."""
        while True:
            p = free_port()
            if p not in self._taken:
                self._taken.add(p)
                return p

    def _node_ports(self) -> list[str]:
        while True:
            lo, hi = free_range()
            if not self._taken & set(range(lo, hi + 1)):
                break
        self._taken |= set(range(lo, hi + 1))
        return ["--dashboard-agent-listen-port", str(self._port()), "--metrics-export-port", str(self._port()),
                "--runtime-env-agent-port", str(self._port()), "--min-worker-port", str(lo), "--max-worker-port",
                str(hi), "--disable-usage-stats"]

    def start_head(self, num_cpus: float, resources: dict | None = None) -> None:
        self.gcs_port, self.dashboard_port = self._port(), self._port()
        self._start([str(BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--port",
                     str(self.gcs_port), "--num-cpus", str(num_cpus), "--resources", json.dumps(resources or {}),
                     "--temp-dir", str(self.temp_dir), "--dashboard-host", "127.0.0.1", "--dashboard-port",
                     str(self.dashboard_port), "--ray-client-server-port", str(self._port()), *self._node_ports()],
                    "head")

    def add_worker(self, num_cpus: float, resources: dict | None = None) -> None:
        n = len(self.sessions)
        self._start([sys.executable, str(HERE / "raynode.py"), "start", "--address", self.address, "--num-cpus",
                     str(num_cpus), "--resources", json.dumps(resources or {}), *self._node_ports()], f"worker{n}")

    def ray(self, *args: str, timeout: float = 600, cwd=None, env: dict | None = None) -> subprocess.CompletedProcess:
        """A `ray` CLI command as a client of this cluster (token in the environment)."""
        return subprocess.run([str(BIN / "ray"), *args], env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd)

    def pids(self) -> list[int]:
        """Every live process of the sessions started here."""
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getsid(int(entry)) in self.sessions:
                        out.append(int(entry))
                except (ProcessLookupError, PermissionError):
                    pass
        return out

    def wait_for_nodes(self, n: int, timeout: float = 180) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.ray("list", "nodes", "--address", self.dashboard, "--format", "json", timeout=60)
            start = r.stdout.find("[")
            if r.returncode == 0 and start >= 0:  # the head may still be starting: no (or partial) JSON yet
                try:
                    nodes = [x for x in json.loads(r.stdout[start:]) if x.get("state") == "ALIVE"]
                except ValueError:
                    nodes = []
                if len(nodes) >= n:
                    return nodes
            time.sleep(1)
        raise RuntimeError(f"fewer than {n} nodes alive after {timeout:g} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, exactly the processes of the sessions this object started."""
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + wait
            while self.pids() and time.time() < deadline:
                time.sleep(0.2)
            if not self.pids():
                break
        if not self.pids():
            shutil.rmtree(self.temp_dir, ignore_errors=True)
