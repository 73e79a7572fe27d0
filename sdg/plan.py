"""The job's resource plan: what one task, actor or Serve replica of each stage and app reserves, how many run, and
which config key sets each figure. The one place that knows what a job reserves: the stages' footprints
(sdg.stages), the Serve apps' deployment options (serve.apps, ``replica_needs``) and the check against the cluster
before anything runs (sdg.placement) all read it from here.

Keys (``resources:`` of the job config, sdg.config.Resources):

- ``simulators`` actors of ``simulator_cpus`` CPUs and ``simulator_gpus`` GPUs each (default: CARLA
  ``endpoints.carla.gpus_per_actor``, builtin 0); ``augmenters`` augment-stage actors; ``stage_cpus`` per task of
  the CPU stages (groundtruth, postprocess; write takes at most 0.25) and per augment actor;
- ``stages.<stage>``: ``cpus``, ``gpus``, ``concurrency`` (actor stages: the pool size; task stages: the most tasks
  at once) and custom Ray ``resources`` per task/actor (e.g. ``{carla: 1}``);
- ``serve.augment`` / ``serve.prompt``: ``replicas`` (fixed) or ``min_replicas``/``max_replicas``/
  ``target_ongoing_requests`` (autoscaling), ``cpus``, ``gpus`` and custom ``resources`` per replica (e.g.
  ``{cosmos: 1}``). With Cosmos the augment app defaults to one replica per server url, reserving
  ``gpus_per_augmenter`` GPUs (0 when the Gradio server owns its GPUs outside Ray).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sdg.config import STAGE_NAMES, JobConfig

APP_NAMES = ("augment", "prompt")  # the Serve apps (sdg.serving.contract.AUGMENT_APP, PROMPT_APP)
ACTOR_STAGES = ("simulate", "augment")  # stages that run as actor pools (setup once per actor)
PROMPT_REPLICA_MAX_CPUS = 0.25  # the prompt replicas only wait on the NIMs
WRITE_MAX_CPUS = 0.25  # the write stage mostly waits on storage


def uses_serve(cfg: JobConfig) -> bool:
    """Whether the augment stage goes through the Serve apps (``backends.serve``: auto = when a backend is remote)."""
    mode = cfg.backends.serve
    if mode == "auto":
        return cfg.backends.augmenter != "builtin" or cfg.backends.prompts != "template"
    return mode == "always"


@dataclass(frozen=True)
class Unit:
    """What one task, actor or replica reserves: CPUs, GPUs and custom Ray resources."""

    cpus: float = 0.0
    gpus: float = 0.0
    resources: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, float]:
        """Ray's spelling: {"CPU": …, "GPU": … (when > 0), custom…}."""
        d = {"CPU": float(self.cpus)}
        if self.gpus:
            d["GPU"] = float(self.gpus)
        d.update((k, float(v)) for k, v in self.resources)
        return d


@dataclass(frozen=True)
class Needs:
    """One stage's or Serve app's part of the plan. ``count``: the units that stand for the whole run (an actor
    pool's actors, a Serve app's fixed or minimum replicas, one task of a task stage); ``most``: the most at once
    (None: as many as Ray Data runs). ``keys``: the config key behind each figure ("count", "CPU", "GPU", custom
    names), for messages that say what to change."""

    kind: str  # "stage" | "Serve app"
    name: str
    noun: str  # "actor" | "task" | "replica"
    unit: Unit
    count: int
    most: int | None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name!r}"


@dataclass(frozen=True)
class StageNeeds(Needs):
    actors: int | None = None  # actor stages: the pool size
    concurrency: int | None = None  # task stages: the most tasks at once (None: Ray Data decides)


@dataclass(frozen=True)
class AppNeeds(Needs):
    replicas: int | None = None  # a fixed count, or None: autoscaling between min_replicas and max_replicas
    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 1.0

    def deployment_options(self) -> dict:
        """Keyword arguments of ``Deployment.options`` for this app's replicas."""
        actor: dict = {"num_cpus": self.unit.cpus, "num_gpus": self.unit.gpus}
        if self.unit.resources:
            actor["resources"] = dict(self.unit.resources)
        if self.replicas is not None:
            return {"num_replicas": self.replicas, "ray_actor_options": actor}
        return {"autoscaling_config": {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                                       "target_ongoing_requests": self.target_ongoing_requests},
                "ray_actor_options": actor}


@dataclass(frozen=True)
class ResourcePlan:
    stages: dict[str, StageNeeds]
    serve: dict[str, AppNeeds]  # empty when the job does not use the Serve apps
    variants: int  # augmented variants per clip (requests per clip sent to the augment app)

    def reservations(self) -> list[Needs]:
        """What the run must place to progress, in the order Ray places it: the Serve apps' replicas (deployed
        first) and the actor pools (started with the dataset), which hold their resources for the whole run, then
        the task stages, each of which needs room for one task next to them."""
        actor_stages = [s for s in self.stages.values() if s.actors]
        task_stages = [s for s in self.stages.values() if not s.actors]
        return [*self.serve.values(), *actor_stages, *task_stages]

    def custom_resources(self) -> set[str]:
        """The custom Ray resource names the plan asks for (e.g. carla, cosmos)."""
        return {k for n in self.reservations() for k, _ in n.unit.resources}


def stage_needs(cfg: JobConfig, name: str) -> StageNeeds:
    """The plan of one pipeline stage (defaults from the flat ``resources`` keys, overridden by
    ``resources.stages.<name>``)."""
    if name not in STAGE_NAMES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
    r = cfg.resources
    over = r.stages.get(name)
    base = f"resources.stages.{name}"
    keys = {"custom": f"{base}.resources", "CPU": f"{base}.cpus", "GPU": f"{base}.gpus", "count": f"{base}.concurrency"}
    if name == "simulate":
        gpus = r.simulator_gpus
        gpu_key = "resources.simulator_gpus"
        if gpus is None:
            gpus = cfg.endpoints.carla.gpus_per_actor if cfg.backends.simulator == "carla" else 0.0
            if cfg.backends.simulator == "carla":
                gpu_key = "resources.simulator_gpus (default: endpoints.carla.gpus_per_actor)"
        cpus, count = r.simulator_cpus, r.simulators
        flat = {"CPU": "resources.simulator_cpus", "GPU": gpu_key, "count": "resources.simulators"}
    elif name == "augment":
        cpus, gpus, count = r.stage_cpus, 0.0, r.augmenters
        flat = {"CPU": "resources.stage_cpus", "count": "resources.augmenters"}
    else:
        cpus, gpus, count = (min(WRITE_MAX_CPUS, r.stage_cpus) if name == "write" else r.stage_cpus), 0.0, None
        flat = {"CPU": "resources.stage_cpus"}
    custom: tuple[tuple[str, float], ...] = ()
    if over is not None:
        for k, v in (("CPU", over.cpus), ("GPU", over.gpus), ("count", over.concurrency)):
            if v is not None:
                flat[k] = keys[k]
        cpus = over.cpus if over.cpus is not None else cpus
        gpus = over.gpus if over.gpus is not None else gpus
        count = over.concurrency if over.concurrency is not None else count
        custom = tuple(sorted(over.resources.items()))
    merged = {**{k: v for k, v in keys.items() if k != "custom"}, **flat}
    merged.update({c: keys["custom"] for c, _ in custom})
    unit = Unit(float(cpus), float(gpus), custom)
    if name in ACTOR_STAGES:
        return StageNeeds("stage", name, "actor", unit, count=count, most=count, keys=merged, actors=count)
    return StageNeeds("stage", name, "task", unit, count=1, most=count, keys=merged, concurrency=count)


def app_needs(cfg: JobConfig, app: str) -> AppNeeds:
    """The plan of one Serve app (``resources.serve.<app>``; defaults: the augment app autoscales up to
    ``resources.augmenters`` replicas of ``stage_cpus``, or with Cosmos runs one replica per server url; the prompt
    app autoscales up to ``resources.augmenters`` replicas of at most 0.25 CPUs)."""
    if app not in APP_NAMES:
        raise ValueError(f"unknown Serve app {app!r}; known: {', '.join(APP_NAMES)}")
    r = cfg.resources
    s = getattr(r.serve, app)
    base = f"resources.serve.{app}"
    keys = {"CPU": f"{base}.cpus" if s.cpus is not None else "resources.stage_cpus",
            "GPU": f"{base}.gpus", "count": f"{base}.replicas"}
    if app == "augment":
        cpus = r.stage_cpus
        gpus = r.gpus_per_augmenter if cfg.backends.augmenter == "cosmos" else 0.0
        if s.gpus is None:
            keys["GPU"] = "resources.gpus_per_augmenter"
        target = 1.0
        fixed = None
        if cfg.backends.augmenter == "cosmos" and s.min_replicas is None and s.max_replicas is None:
            from sdg.augment.cosmos_setup import cosmos_urls

            fixed = max(1, len(cosmos_urls(cfg)))  # one per server url
    else:
        cpus, gpus, target, fixed = min(PROMPT_REPLICA_MAX_CPUS, r.stage_cpus), 0.0, 4.0, None
    if s.replicas is not None:
        fixed = s.replicas
    elif fixed is None:
        keys["count"] = f"{base}.min_replicas"
    cpus = s.cpus if s.cpus is not None else cpus
    gpus = s.gpus if s.gpus is not None else gpus
    lo = s.min_replicas if s.min_replicas is not None else 1
    hi = s.max_replicas if s.max_replicas is not None else max(lo, 1, r.augmenters)
    custom = tuple(sorted(s.resources.items()))
    keys.update({c: f"{base}.resources" for c, _ in custom})
    count = fixed if fixed is not None else max(1, lo)
    return AppNeeds("Serve app", app, "replica", Unit(float(cpus), float(gpus), custom), count=count,
                    most=fixed if fixed is not None else hi, keys=keys, replicas=fixed, min_replicas=lo,
                    max_replicas=hi,
                    target_ongoing_requests=s.target_ongoing_requests if s.target_ongoing_requests else target)


def make_plan(cfg: JobConfig) -> ResourcePlan:
    stages = {name: stage_needs(cfg, name) for name in STAGE_NAMES}
    serve = {app: app_needs(cfg, app) for app in APP_NAMES} if uses_serve(cfg) else {}
    return ResourcePlan(stages=stages, serve=serve, variants=cfg.augmentation.variants)


def describe(plan: ResourcePlan) -> list[str]:
    """One line per stage and Serve app: how many of what."""
    lines = []
    for n in [*plan.stages.values(), *plan.serve.values()]:
        unit = "{" + ", ".join(f"{k}: {v:g}" for k, v in n.unit.as_dict().items()) + "}"
        if isinstance(n, AppNeeds) and n.replicas is None:
            many = f"{n.min_replicas}..{n.max_replicas} replicas (autoscaling)"
        elif n.noun == "task":
            many = f"tasks (at most {n.most} at once)" if n.most else "tasks"
        else:
            many = f"{n.count} {n.noun}{'s' if n.count != 1 else ''}"
        lines.append(f"{n.label}: {many} × {unit}")
    return lines


def replica_needs(cfg: JobConfig) -> dict[str, dict[str, float]]:
    """What one replica of each Serve app reserves, in Ray's spelling ({"CPU": …, "GPU": …, custom…})."""
    return {app: app_needs(cfg, app).unit.as_dict() for app in APP_NAMES}
