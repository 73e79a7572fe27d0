"""Check a job's resource plan (sdg.plan) against the Ray cluster before anything runs.

A plan that cannot be placed stops with one message (:class:`PlanError`; `sdg run` exits 2, nothing written)
instead of waiting forever for an actor, replica or task Ray can never schedule. Placement is per node: a unit
(one actor, task or replica) needs ONE node with all it asks for (1 GPU + 1 ``carla`` is not met by a GPU node and
another node with ``carla``). What holds resources for the whole run is packed together, in the order Ray places
it: the Serve apps' replicas (fixed or minimum count), then the actor pools; then each task stage needs room for
one task next to them (else the pipeline waits forever for a CPU that never frees). Where an autoscaler is
configured, a unit that fits no current node may take a new node of a worker type that can hold it, up to that
type's most nodes (and the cluster's ``max_workers``). The packing is first-fit in that order, keeping units off
nodes with GPUs or custom resources they do not ask for (as Ray does); it is not an optimal bin packing.

Where the autoscaler's node types come from (sdg.autoscaler): the config the running autoscaler reported to Ray when
there is one (what it will really do), else the cluster YAML named by ``resources.cluster_config`` (a Ray cluster
launcher config or a KubeRay manifest), else none (the current nodes only). The plan is checked against what the
nodes have in total, not what is free this second: resources that other work holds now are waited for, not a hang.

A plan that fits but leaves the bottleneck idle gets a warning with the number to change: more simulator or augment
actors than clips, more augment replicas (Cosmos servers) than requests in flight can feed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from sdg.autoscaler import Autoscaler, NodeType, load_autoscaler, running_autoscaler
from sdg.config import JobConfig
from sdg.plan import Needs, ResourcePlan, describe, make_plan

log = logging.getLogger("sdg.plan")
EPS = 1e-9
_HIDDEN = ("memory", "object_store_memory")


class PlanError(Exception):
    """The resource plan cannot be placed on the cluster; the message names the stage, what it asks for and what
    the cluster has."""


@dataclass
class PlanReport:
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    added_nodes: dict[str, int] = field(default_factory=dict)  # node type -> nodes the autoscaler must add

    @property
    def ok(self) -> bool:
        return self.error is None


def fmt(res: dict[str, float]) -> str:
    """{CPU: 0.5, GPU: 1, carla: 1}"""
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in res.items()) + "}"


def node_resources(raw: dict) -> dict[str, float]:
    """A node's resources without Ray's per-node markers and memory figures."""
    return {k: float(v) for k, v in raw.items()
            if v and k not in _HIDDEN and not k.startswith("node:") and not k.startswith("accelerator_type:")}


def live_nodes() -> list[dict[str, float]]:
    """The resources of each alive node of the connected cluster (``ray.nodes()``)."""
    import ray

    return [node_resources(n.get("Resources") or {}) for n in ray.nodes() if n.get("Alive")]


def _fits(unit: dict[str, float], node: dict[str, float]) -> bool:
    return all(node.get(k, 0.0) + EPS >= v for k, v in unit.items() if v > 0)


def _extra(unit: dict[str, float], node: dict[str, float]) -> int:
    """How many scarce kinds (GPUs, custom resources) a node has that the unit does not ask for: Ray keeps other
    work off GPU nodes, and so does this packing."""
    return sum(1 for k, v in node.items() if v > 0 and k != "CPU" and k not in unit)


def _signature(res: dict[str, float]) -> tuple:
    return tuple(sorted((k, round(v, 6)) for k, v in res.items() if v))


class _Packer:
    """Current nodes with what is left on each, plus the nodes the autoscaler may still add."""

    def __init__(self, nodes: list[dict[str, float]], auto: Autoscaler | None):
        self.free = [dict(n) for n in nodes]
        self.types: list[NodeType] = list(auto.node_types) if auto else []
        have = [_signature(n) for n in nodes]
        # nodes already up count against their type's most nodes (matched by their resources)
        self.left = {t.name: (None if t.max_workers is None else max(0, t.max_workers - have.count(
            _signature(t.resources)))) for t in self.types}
        self.total_left = None
        if auto is not None and auto.max_workers is not None:
            workers = sum(1 for s in have if s in {_signature(t.resources) for t in self.types})
            self.total_left = max(0, auto.max_workers - workers)
        self.added: dict[str, int] = {}

    def _launchable(self) -> list[NodeType]:
        if self.total_left == 0:
            return []
        return [t for t in self.types if self.left[t.name] is None or self.left[t.name] > 0]

    def place(self, unit: dict[str, float], hold: bool = True) -> bool:
        """Find a node for ``unit`` (adding one of an autoscaler's types if no node has room); ``hold``: the unit
        keeps its resources for the whole run (actors, replicas), else it only needs the room once (a task)."""
        fits = [i for i, n in enumerate(self.free) if _fits(unit, n)]
        if fits:
            i = min(fits, key=lambda j: (_extra(unit, self.free[j]), j))
        else:
            types = [t for t in self._launchable() if _fits(unit, t.resources)]
            if not types:
                return False
            t = min(types, key=lambda x: (_extra(unit, x.resources), sum(x.resources.values())))
            self.free.append(dict(t.resources))
            i = len(self.free) - 1
            self.added[t.name] = self.added.get(t.name, 0) + 1
            if self.left[t.name] is not None:
                self.left[t.name] -= 1
            if self.total_left is not None:
                self.total_left -= 1
        if hold:
            for k, v in unit.items():
                self.free[i][k] = self.free[i].get(k, 0.0) - v
        return True


def describe_cluster(nodes: list[dict[str, float]], auto: Autoscaler | None) -> str:
    total: dict[str, float] = {}
    for n in nodes:
        for k, v in n.items():
            total[k] = total.get(k, 0.0) + v
    n = len(nodes)
    text = f"the cluster has {fmt(total)} on {n} node{'s' if n != 1 else ''}"
    if n > 1:
        text += f" (largest: {fmt(max(nodes, key=lambda x: sum(x.values())))})"
    if auto is None:
        return text + ", and no autoscaler is configured (resources.cluster_config)"
    kinds = ", ".join(f"{t.name} up to {'∞' if t.max_workers is None else t.max_workers} × {fmt(t.resources)}"
                      for t in auto.node_types) or "no worker types"
    return f"{text}; the autoscaler ({auto.source}) can add {kinds}"


def _capacities(nodes: list[dict[str, float]], auto: Autoscaler | None) -> list[dict[str, float]]:
    """Every node's total and every node type's (what one unit could have to itself)."""
    types = auto.node_types if auto is not None and auto.max_workers != 0 else ()
    return [*nodes, *[t.resources for t in types if t.max_workers != 0]]


def _missing(unit: dict[str, float], nodes: list[dict[str, float]], auto: Autoscaler | None) -> str:
    """Why no single node (current or addable) can hold ``unit``."""
    caps = _capacities(nodes, auto)
    parts = []
    for k, v in unit.items():
        most = max((c.get(k, 0.0) for c in caps), default=0.0)
        if most + EPS < v:
            parts.append(f"no node has {k}" if most == 0 else f"no node has {v:g} {k} (the most on one node: {most:g})")
    return "; ".join(parts) if parts else f"no single node has all of {fmt(unit)} together"


def _key_for(needs: Needs, unit: dict[str, float], nodes, auto) -> str:
    caps = _capacities(nodes, auto)
    lacking = [k for k, v in unit.items() if max((c.get(k, 0.0) for c in caps), default=0.0) + EPS < v] or list(unit)
    keys = []
    for k in lacking:
        key = needs.keys.get(k)
        if key and key not in keys:
            keys.append(key)
    return ", ".join(keys) or "the resources it asks for"


def check_plan(plan: ResourcePlan, nodes: list[dict[str, float]], auto: Autoscaler | None = None,
               clips: int | None = None) -> PlanReport:
    """Place ``plan`` on ``nodes`` (each node's total resources) plus what ``auto`` may add; the report holds the
    first unit that cannot be placed (as one message) or the warnings."""
    report = PlanReport()
    packer = _Packer(nodes, auto)
    holders: list[Needs] = []
    for needs in plan.reservations():
        unit = needs.unit.as_dict()
        hold = needs.noun != "task"
        for i in range(needs.count):
            if not packer.place(unit, hold=hold):
                fits = _most_that_fit(plan, needs, i, nodes, auto) if hold else 0
                report.error = _unplaceable(needs, unit, fits, nodes, auto, holders)
                return report
        if hold:
            holders.append(needs)
    report.added_nodes = dict(packer.added)
    report.warnings = idle_warnings(plan, clips)
    return report


def _with_count(plan: ResourcePlan, needs: Needs, count: int) -> ResourcePlan:
    changed = replace(needs, count=count)
    if needs.kind == "stage":
        return replace(plan, stages={**plan.stages, needs.name: changed})
    return replace(plan, serve={**plan.serve, needs.name: changed})


def _most_that_fit(plan: ResourcePlan, needs: Needs, upper: int, nodes, auto) -> int:
    """The largest count of ``needs`` (at most ``upper``) with which the whole plan can be placed."""
    for k in range(upper, 0, -1):
        if check_plan(_with_count(plan, needs, k), nodes, auto).ok:
            return k
    return 0


def _unplaceable(needs: Needs, unit: dict[str, float], fitted: int, nodes, auto, holders: list[Needs]) -> str:
    """The one-line message for ``needs`` of which only ``fitted`` units could be placed."""
    head = f"resources: {needs.label} cannot be placed"
    where = describe_cluster(nodes, auto)
    if not any(_fits(unit, c) for c in _capacities(nodes, auto)):
        return (f"{head}: each {needs.noun} asks for {fmt(unit)}, but {_missing(unit, nodes, auto)}; {where}. "
                f"Change {_key_for(needs, unit, nodes, auto)}, or add nodes that have it")
    held = "; ".join(f"{h.label} {h.count} × {fmt(h.unit.as_dict())}" for h in holders)
    if needs.noun == "task":
        keys = ", ".join(dict.fromkeys(h.keys[k] for h in holders for k in unit if k in h.keys)) or "them"
        return (f"{head}: one task asks for {fmt(unit)} and none fits beside what the actors and replicas hold for "
                f"the whole run ({held}), so the pipeline would wait forever; {where}. Lower {keys}, or add nodes")
    n, noun = needs.count, needs.noun
    what = f"its {n} {noun}s ask for {fmt(unit)} each" if n != 1 else f"its {noun} asks for {fmt(unit)}"
    fitting = f"only {fitted} fit" if fitted else ("none fits" if n != 1 else "it does not fit")
    beside = f" beside the rest of the plan (before it: {held})" if held else " beside the rest of the plan"
    lower = ", ".join(dict.fromkeys(needs.keys.get(k, k) for k in unit))
    fix = f"set {needs.keys.get('count', 'its count')} to {fitted} (or lower {lower})" if fitted else f"lower {lower}"
    return f"{head}: {what}, and {fitting}{beside}; {where}. Fix: {fix}, or add nodes"


def idle_warnings(plan: ResourcePlan, clips: int | None) -> list[str]:
    """Plans that fit but leave workers (the simulators' and the augment replicas' GPUs) waiting, with the number
    to change."""
    out = []
    sim, aug = plan.stages.get("simulate"), plan.stages.get("augment")
    if clips is not None:
        for st in (sim, aug):
            if st is not None and st.actors and st.actors > clips:
                idle = st.actors - clips
                gpus = f" ({idle * st.unit.gpus:g} GPUs)" if st.unit.gpus else ""
                out.append(f"{st.keys['count']} is {st.actors} but this run has {clips} clip(s): {idle} {st.name} "
                           f"actor(s){gpus} would idle; set {st.keys['count']}: {clips}")
    app = plan.serve.get("augment")
    if app is not None and aug is not None and aug.actors:
        feeders = min(aug.actors, clips) if clips is not None else aug.actors
        in_flight = feeders * plan.variants
        if app.count > in_flight:
            idle = app.count - in_flight
            gpus = f", {idle * app.unit.gpus:g} GPUs" if app.unit.gpus else ""
            more = -(-app.count // plan.variants)
            raise_hint = f" (or raise {aug.keys['count']} to {more})" if clips is None or more <= clips else ""
            out.append(f"{app.label} keeps {app.count} replicas but at most {in_flight} augment request(s) are in "
                       f"flight ({feeders} augment actor(s) × {plan.variants} variant(s)): {idle} replica(s){gpus} "
                       f"and their servers would idle; set {app.keys['count']}: {in_flight}{raise_hint}")
    return out


def cluster_autoscaler(cfg: JobConfig) -> Autoscaler | None:
    """The running autoscaler's node types, else those of ``resources.cluster_config``, else None."""
    live = running_autoscaler()
    if live is not None:
        return live
    if cfg.resources.cluster_config is not None:
        return load_autoscaler(cfg.resources.cluster_config)
    return None


def plan_summary(cfg: JobConfig, clips: int | None = None) -> list[str]:
    """`sdg validate`: the plan, one line per stage and app, and with ``resources.cluster_config`` whether it can be
    placed on the nodes that config's autoscaler can add (no cluster needed). Raises PlanError when it cannot."""
    from sdg.config import ConfigError

    plan = make_plan(cfg)
    lines = [f"  {line}" for line in describe(plan)]
    if cfg.resources.cluster_config is None:
        return lines
    try:
        auto = load_autoscaler(cfg.resources.cluster_config)
    except ConfigError as e:
        raise PlanError(str(e)) from None
    report = check_plan(plan, [], auto, clips)
    if report.error:
        raise PlanError(report.error)
    added = ", ".join(f"{n} × {t}" for t, n in report.added_nodes.items()) or "no nodes"
    lines.append(f"  fits {auto.source}: needs {added}")
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return lines


def validate_plan(cfg: JobConfig, clips: int | None = None) -> PlanReport:
    """Check ``cfg``'s plan against the connected Ray cluster; raise :class:`PlanError` when it cannot be placed,
    log the warnings (and the nodes an autoscaler must add) otherwise."""
    from sdg.config import ConfigError

    try:
        auto = cluster_autoscaler(cfg)
    except ConfigError as e:
        raise PlanError(str(e)) from None
    report = check_plan(make_plan(cfg), live_nodes(), auto, clips)
    if report.error:
        raise PlanError(report.error)
    for w in report.warnings:
        log.warning(w)
    if report.added_nodes:
        log.info("the plan needs %s more from the autoscaler (%s); the run starts as they come up",
                 ", ".join(f"{n} × {t}" for t, n in report.added_nodes.items()), auto.source if auto else "?")
    return report
