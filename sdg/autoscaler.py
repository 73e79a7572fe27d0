"""What an autoscaler can add to a Ray cluster: its worker node types, each with the resources of one node and the
most nodes of that type, read from a Ray cluster launcher YAML (``available_node_types``), a KubeRay RayCluster or
RayJob (``workerGroupSpecs``), or the config the running autoscaler reported to Ray (the same view Ray Data and Ray
Train read for their own limits).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from sdg.config import ConfigError

KUBERAY_KINDS = ("RayCluster", "RayJob", "RayService")


@dataclass(frozen=True)
class NodeType:
    name: str
    resources: dict[str, float]  # of one node, e.g. {"CPU": 48, "GPU": 4, "carla": 4}
    max_workers: int | None  # the most nodes of this type (None: no limit)
    min_workers: int = 0


@dataclass(frozen=True)
class Autoscaler:
    source: str  # where the node types come from (a file, or "the running autoscaler")
    node_types: tuple[NodeType, ...]
    max_workers: int | None = None  # the most worker nodes in all (None: no limit besides the types')


def _quantity(v) -> float:
    """A Kubernetes quantity ("32", "500m", 4) as a number."""
    s = str(v).strip()
    return float(s[:-1]) / 1000.0 if s.endswith("m") else float(s)


def _start_resources(raw) -> dict[str, float]:
    """rayStartParams.resources: a JSON object, in KubeRay manifests often quoted once more ('"{\\"carla\\": 1}"')."""
    if isinstance(raw, dict):
        return {str(k): float(v) for k, v in raw.items()}
    text = str(raw).strip()
    for _ in range(2):
        value = json.loads(text)
        if isinstance(value, dict):
            return {str(k): float(v) for k, v in value.items()}
        text = str(value)
    raise ValueError(f"rayStartParams.resources is not a JSON object: {raw!r}")


def kuberay_group_resources(group: dict) -> dict[str, float]:
    """One pod's Ray resources as KubeRay starts it: rayStartParams num-cpus / num-gpus / resources, else the Ray
    container's limits (cpu, nvidia.com/gpu; sidecars' GPUs are not Ray's)."""
    params = group.get("rayStartParams") or {}
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    limits = (containers[0].get("resources") or {}).get("limits") or {}  # KubeRay: the Ray container comes first
    out: dict[str, float] = {}
    if "num-cpus" in params:
        out["CPU"] = float(params["num-cpus"])
    elif "cpu" in limits:
        out["CPU"] = float(math.floor(_quantity(limits["cpu"])))
    if "num-gpus" in params:
        out["GPU"] = float(params["num-gpus"])
    elif "nvidia.com/gpu" in limits:
        out["GPU"] = _quantity(limits["nvidia.com/gpu"])
    if "resources" in params:
        out.update(_start_resources(params["resources"]))
    return {k: v for k, v in out.items() if v}


def _cluster_spec(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "RayJob":
        return spec.get("rayClusterSpec") or {}
    if doc.get("kind") == "RayService":
        return spec.get("rayClusterConfig") or {}
    return spec


def from_kuberay(doc: dict, source: str) -> Autoscaler:
    spec = _cluster_spec(doc)
    types = []
    for g in spec.get("workerGroupSpecs") or []:
        hi = g.get("maxReplicas")
        types.append(NodeType(str(g.get("groupName")), kuberay_group_resources(g),
                              None if hi is None else int(hi), int(g.get("minReplicas") or 0)))
    return Autoscaler(source, tuple(types))


def from_launcher(doc: dict, source: str) -> Autoscaler:
    head = doc.get("head_node_type")
    types = []
    for name, t in (doc.get("available_node_types") or {}).items():
        if name == head:
            continue
        hi = t.get("max_workers")
        types.append(NodeType(str(name), {k: float(v) for k, v in (t.get("resources") or {}).items() if v},
                              None if hi is None else int(hi), int(t.get("min_workers") or 0)))
    hi = doc.get("max_workers")
    return Autoscaler(source, tuple(types), None if hi is None else int(hi))


def load_autoscaler(path: str | Path) -> Autoscaler:
    """The node types of a Ray cluster launcher YAML or a KubeRay manifest (the first RayCluster / RayJob /
    RayService document of the file). Raises ConfigError naming the file."""
    p = Path(path)
    try:
        docs = [d for d in yaml.safe_load_all(p.read_text()) if isinstance(d, dict)]
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such cluster config (resources.cluster_config)") from None
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{p}: not a readable YAML cluster config ({e})") from None
    try:
        for d in docs:
            if d.get("kind") in KUBERAY_KINDS:
                return from_kuberay(d, str(p))
            if "available_node_types" in d:
                return from_launcher(d, str(p))
    except (TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"{p}: cannot read its node types ({e})") from None
    raise ConfigError(f"{p}: neither a Ray cluster launcher config (available_node_types) nor a KubeRay "
                      f"{'/'.join(KUBERAY_KINDS)} manifest (resources.cluster_config)")


def running_autoscaler() -> Autoscaler | None:
    """The node types the running cluster's autoscaler reported to Ray (KubeRay and the cluster launcher report
    them), or None (a local cluster, or a Ray without that view)."""
    try:
        import ray._private.state as state

        cfg = state.state.get_cluster_config()
    except Exception:  # noqa: BLE001 - a private view: absent on some versions and setups
        return None
    if cfg is None or not cfg.node_group_configs:
        return None
    types = tuple(NodeType(g.name, {k: float(v) for k, v in g.resources.items() if v},
                           None if g.max_count < 0 else int(g.max_count), int(g.min_count))
                  for g in cfg.node_group_configs)
    return Autoscaler("the running autoscaler", types)
