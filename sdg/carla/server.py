"""Ports and process supervision for CARLA servers.

A CARLA server listens on its RPC port P, streams sensor data on P+1 and reserves P+2 (secondary/multi-GPU port);
each client's Traffic Manager needs one more port. `allocate_ports` hands out non-colliding blocks of four
(rpc, streaming, P+2 reserved, tm) that are free on this machine. `CarlaServerProcess` starts a server from a
command template, waits until its RPC port accepts connections, tells whether it is alive and stops it.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PORT_STRIDE = 4


@dataclass(frozen=True)
class Ports:
    rpc: int
    streaming: int
    tm: int


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP socket can bind `port` on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def allocate_ports(n: int, base: int = 2000, check: bool = True, host: str = "127.0.0.1") -> list[Ports]:
    """n (rpc, streaming, tm) triples: rpc = base + 4*i for the i-th usable block, streaming = rpc + 1, rpc + 2
    left for CARLA's secondary port, tm = rpc + 3. With `check`, blocks with any port in use are skipped."""
    if n < 0:
        raise ValueError(f"allocate_ports: n must be >= 0, got {n}")
    if not 1024 <= base <= 65535 - PORT_STRIDE:
        raise ValueError(f"allocate_ports: base port {base} must be in 1024..{65535 - PORT_STRIDE}")
    out: list[Ports] = []
    p = base
    while len(out) < n:
        if p + PORT_STRIDE - 1 > 65535:
            raise RuntimeError(f"allocate_ports: only {len(out)} of {n} free port blocks between {base} and 65535; "
                               "free some ports or choose another base")
        if not check or all(port_free(q, host) for q in range(p, p + PORT_STRIDE)):
            out.append(Ports(rpc=p, streaming=p + 1, tm=p + 3))
        p += PORT_STRIDE
    return out


def format_command(template: str, ports: Ports, gpu: int | str | None = None) -> list[str]:
    """Fill a server command template. Placeholders: {port} (rpc), {port+1} or {streaming_port}, {tm_port},
    {gpu}. Returns argv."""
    cmd = (template.replace("{port+1}", str(ports.streaming)).replace("{streaming_port}", str(ports.streaming))
           .replace("{tm_port}", str(ports.tm)).replace("{port}", str(ports.rpc)))
    if "{gpu}" in cmd:
        cmd = cmd.replace("{gpu}", "0" if gpu is None else str(gpu))
    return shlex.split(cmd)


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Block until host:port accepts a TCP connection; raise TimeoutError (or RuntimeError if `proc` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the CARLA server process exited with code {proc.returncode} before listening on "
                               f"{host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")
        time.sleep(0.2)


class CarlaServerProcess:
    """A CARLA server we start and supervise (own process group, output to a log file)."""

    def __init__(self, command: str, ports: Ports, host: str = "127.0.0.1", gpu: int | str | None = None,
                 start_timeout: float = 120.0, log_dir: str | os.PathLike | None = None):
        self.template, self.ports, self.host, self.gpu = command, ports, host, gpu
        self.start_timeout = start_timeout
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir()) / "sdg-carla"
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0

    @property
    def argv(self) -> list[str]:
        return format_command(self.template, self.ports, self.gpu)

    def start(self) -> None:
        """Start the server (if not alive) and wait until its RPC port listens."""
        if self.alive():
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"carla-{self.ports.rpc}.log"
        env = dict(os.environ)
        if self.gpu is not None:
            env.setdefault("CUDA_VISIBLE_DEVICES", str(self.gpu))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=env)
        self.starts += 1
        try:
            wait_for_port(self.host, self.ports.rpc, self.start_timeout, self.proc)
        except (TimeoutError, RuntimeError) as e:
            self.stop()
            raise RuntimeError(f"could not start the CARLA server `{' '.join(self.argv)}`: {e}; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL after `timeout`)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=timeout)
