"""Job configuration: pydantic models loaded from YAML. Unknown keys and bad values are errors naming the field."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from sdg.yamlio import read_yaml


class ConfigError(Exception):
    """A job config that cannot be used; the message names the file and the field."""


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraConfig(_Cfg):
    """A camera: either a camera YAML in the public format (centimetres, degrees), or inline values in metres."""

    name: str
    yaml: Path | None = None
    width: int = Field(960, gt=0, le=8192)
    height: int = Field(540, gt=0, le=8192)
    fov: float = Field(90.0, gt=0.0, lt=180.0)
    location: tuple[float, float, float] = (0.0, 0.0, 10.0)
    rotation: tuple[float, float, float] = (0.0, -20.0, 0.0)  # roll, pitch, yaw degrees


class BuiltinScenario(_Cfg):
    kind: Literal["builtin"] = "builtin"
    id: str
    scenario: str = "collision"  # a named scenario kind of sdg.scenario (see `sdg scenarios`)
    layout: str = "intersection"
    seed: int = 0
    duration: float = Field(3.0, gt=0.0, le=600.0)
    fps: float = Field(10.0, gt=0.0, le=120.0)
    vehicles: int = Field(8, ge=0, le=200)
    pedestrians: int = Field(6, ge=0, le=200)
    cameras: list[str] | None = None  # names of job cameras; default: all


class RecordingScenario(_Cfg):
    kind: Literal["recording"]
    id: str
    log: Path  # CARLA recorder .log
    scenario_json: Path | None = None  # {source_scenario, start_time, duration, collision_actor_ids, ...}
    camera_yaml: Path | None = None  # overrides job cameras for this recording
    xodr: Path | None = None  # OpenDRIVE map for the CPU simulator's road layout
    start_time: float | None = Field(None, ge=0.0)
    duration: float | None = Field(None, gt=0.0)
    fps: float = Field(10.0, gt=0.0, le=120.0)
    cameras: list[str] | None = None


def _scenario_kind(v) -> str:
    if isinstance(v, dict):
        return v.get("kind", "builtin")
    return getattr(v, "kind", "builtin")


Scenario = Annotated[
    Union[Annotated[BuiltinScenario, Tag("builtin")], Annotated[RecordingScenario, Tag("recording")]],
    Discriminator(_scenario_kind, custom_error_type="scenario_kind",
                  custom_error_message="kind must be 'builtin' or 'recording'"),
]


# a backend of your own: "package.module:Class", constructed with the JobConfig (sdg.plugins)
Plugin = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


class Backends(_Cfg):
    simulator: Union[Literal["builtin", "carla"], Plugin] = "builtin"
    augmenter: Union[Literal["builtin", "cosmos"], Plugin] = "builtin"
    prompts: Union[Literal["template", "nim"], Plugin] = "template"
    serve: Literal["auto", "always", "never"] = "auto"  # auto: Ray Serve apps when a remote backend is used


class CarlaEndpoint(_Cfg):
    hosts: list[str] = ["127.0.0.1:2000"]  # one simulator actor per host:port
    timeout: float = Field(20.0, gt=0)
    gpus_per_actor: float = Field(1.0, ge=0)
    server_command: str | None = None  # start and supervise a server with this command ({port} substituted)


class Endpoints(_Cfg):
    """The external services. Defaults are what the workflow's compose stack (and `cluster/compose/`) runs: the
    Cosmos-Reason1 NIM (port 8001) and the Nemotron Nano v2 NIM (port 8002) on separate urls, and a Cosmos-Transfer2.5
    Gradio server (port 8080) started with MODEL_NAME=edge."""

    carla: CarlaEndpoint = Field(default_factory=CarlaEndpoint)
    cosmos_url: str | None = None  # Gradio server of Cosmos-Transfer2.5; env SDG_COSMOS_URL overrides
    # the MODEL_NAME the Cosmos-Transfer2.5 server runs (one model per server; it takes only that model's controls).
    # Checked at preflight against what the server announces and against augmentation.controls.
    cosmos_model: Literal["edge", "edge/distilled", "depth", "seg", "vis", "multicontrol"] = "edge"
    vlm_url: str | None = None  # Cosmos-Reason1 NIM, e.g. http://host:8001; env SDG_VLM_URL
    llm_url: str | None = None  # Nemotron NIM, e.g. http://host:8002; env SDG_LLM_URL
    vlm_model: str = "nvidia/cosmos-reason1-7b"
    llm_model: str = "nvidia/nvidia-nemotron-nano-9b-v2"
    cosmos_timeout: float = Field(3600.0, gt=0)  # seconds one Cosmos-Transfer generation may take
    cosmos_retries: int = Field(3, ge=0)  # retries of a Cosmos call after a transient failure (503, timeout)
    cosmos_backoff: float = Field(5.0, ge=0)  # first wait before a retry, seconds (doubling, jittered, capped at 120)

    @model_validator(mode="after")
    def _env(self):
        for field_name, env in (("cosmos_url", "SDG_COSMOS_URL"), ("vlm_url", "SDG_VLM_URL"),
                                ("llm_url", "SDG_LLM_URL")):
            if os.environ.get(env):
                setattr(self, field_name, os.environ[env])
        return self


class Augmentation(_Cfg):
    variants: int = Field(2, ge=1, le=64)  # augmented variants per clip
    weather: list[str] = ["clear", "fog", "rain", "snow"]
    lighting: list[str] = ["day", "night", "dusk"]
    road: list[str] = ["dry", "wet"]
    controls: list[Literal["edge", "depth", "seg", "vis"]] = ["edge", "depth", "seg"]
    control_weights: dict[str, float] = {"edge": 1.0, "depth": 0.5, "seg": 0.5, "vis": 0.3}
    # semantic classes (names or CARLA tags) whose texture edges the edge control drops (None: sky, vegetation,
    # terrain), like the workflow's filter_semantic_classes.yaml; [] keeps every edge
    edge_filter_classes: list[str | int] | None = None
    cosmos: dict = {}  # extra request fields for Cosmos-Transfer (guidance, num_steps, sigma_max, ...)
    # a variant whose look leaves more than this fraction of the marked objects lost (sdg.som.survival) is re-drawn
    # with a milder look (seeded), at most `redraw_attempts` times; 1.0 turns the check off
    max_lost_fraction: float = Field(0.3, ge=0.0, le=1.0)
    redraw_attempts: int = Field(2, ge=0, le=8)


SPLIT_NAMES = ("train", "validation", "test")


class Splits(_Cfg):
    """Dataset splits by scenario (never by frame or variant). Scenarios are shuffled by the job seed and dealt to
    the splits in these proportions (largest remainder; every split with a fraction > 0 gets a scenario while there
    are enough); `assign` pins scenario ids to a split."""

    train: float = Field(0.8, ge=0.0, le=1.0)
    validation: float = Field(0.1, ge=0.0, le=1.0)
    test: float = Field(0.1, ge=0.0, le=1.0)
    assign: dict[str, Literal["train", "validation", "test"]] = {}

    @model_validator(mode="after")
    def _sum(self):
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self

    def assign_all(self, scenario_ids: list[str], seed: int) -> dict[str, str]:
        """{scenario id: split} for every id (deterministic in the ids, the fractions and the seed)."""
        import hashlib  # the same digest as sdg.seeds.stable_seed(seed, "split", id), without importing it

        def key(i: str) -> tuple[bytes, str]:
            return hashlib.sha256("\x1f".join((str(seed), "split", i)).encode()).digest(), i

        out = {i: self.assign[i] for i in scenario_ids if i in self.assign}
        free = sorted((i for i in scenario_ids if i not in out), key=key)
        fractions = {n: getattr(self, n) for n in SPLIT_NAMES}
        n = len(free)
        quota = {k: int(f * n) for k, f in fractions.items()}
        by_remainder = sorted(SPLIT_NAMES, key=lambda k: (-(fractions[k] * n - quota[k]), SPLIT_NAMES.index(k)))
        for k in by_remainder[: n - sum(quota.values())]:
            quota[k] += 1
        wanted = [k for k in SPLIT_NAMES if fractions[k] > 0]
        for k in wanted:  # a split asked for gets a scenario while another split can spare one
            if quota[k] == 0:
                donor = max(wanted, key=lambda d: (quota[d], -SPLIT_NAMES.index(d)))
                if quota[donor] > 1:
                    quota[donor] -= 1
                    quota[k] += 1
        it = iter(free)
        for k in SPLIT_NAMES:
            for _ in range(quota[k]):
                out[next(it)] = k
        return out


class QASettings(_Cfg):
    """Question generation. `paraphrase`: rewrite the phase captions with the LLM of `endpoints.llm_url` (prompts
    backend nim); a paraphrase that drops or alters a fact is rejected and the template text kept."""

    frame_questions_per_kind: int = Field(3, ge=0, le=20)
    video_questions_per_template: int = Field(4, ge=0, le=50)
    paraphrase: bool = False
    event_videos: bool = True  # render a Set-of-Mark video per event (only its actors marked) per variant


STAGE_NAMES = ("simulate", "groundtruth", "augment", "postprocess", "write")  # the pipeline's stages, in order
StageName = Literal["simulate", "groundtruth", "augment", "postprocess", "write"]
RAY_BUILTIN_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


def _custom_resources(v: dict[str, float]) -> dict[str, float]:
    for name, amount in v.items():
        if not name or name in RAY_BUILTIN_RESOURCES or name.startswith("node:"):
            raise ValueError(f"{name!r} is not a custom resource name (CPUs and GPUs have their own keys: cpus, gpus)")
        if not amount > 0:
            raise ValueError(f"{name}: amount must be > 0, got {amount}")
    return v


class StageResources(_Cfg):
    """What one task (groundtruth, postprocess, write) or one actor (simulate, augment) of a stage reserves, and how
    many run at once. Unset values keep the defaults of the flat keys of ``resources``."""

    cpus: float | None = Field(None, ge=0)
    gpus: float | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)  # actor stages: the pool size; task stages: max tasks at once
    resources: dict[str, float] = {}  # custom Ray resources per task/actor, e.g. {carla: 1}

    @field_validator("resources")
    @classmethod
    def _custom(cls, v: dict[str, float]) -> dict[str, float]:
        return _custom_resources(v)


class ServeAppResources(_Cfg):
    """One Serve app's replicas: a fixed count (``replicas``) or autoscaling bounds, and what each replica
    reserves."""

    replicas: int | None = Field(None, ge=1)  # fixed count; default: augment with cosmos = one per server url
    min_replicas: int | None = Field(None, ge=0)  # autoscaling lower bound (default 1)
    max_replicas: int | None = Field(None, ge=1)  # autoscaling upper bound (default resources.augmenters)
    target_ongoing_requests: float | None = Field(None, gt=0)
    cpus: float | None = Field(None, ge=0)
    gpus: float | None = Field(None, ge=0)
    resources: dict[str, float] = {}  # custom Ray resources per replica, e.g. {cosmos: 1}

    @field_validator("resources")
    @classmethod
    def _custom(cls, v: dict[str, float]) -> dict[str, float]:
        return _custom_resources(v)

    @model_validator(mode="after")
    def _bounds(self):
        if self.replicas is not None and (self.min_replicas is not None or self.max_replicas is not None):
            raise ValueError("give either replicas (a fixed count) or min_replicas/max_replicas (autoscaling)")
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        return self


class ServeResources(_Cfg):
    augment: ServeAppResources = Field(default_factory=ServeAppResources)
    prompt: ServeAppResources = Field(default_factory=ServeAppResources)


# per-stage keys that the flat keys below already set: (stage, field of StageResources) -> flat key
_FLAT_KEYS = {("simulate", "concurrency"): "simulators", ("simulate", "cpus"): "simulator_cpus",
              ("simulate", "gpus"): "simulator_gpus", ("augment", "concurrency"): "augmenters"}


class Resources(_Cfg):
    """The job's resource plan (sdg.plan reads it, and checks it against the cluster before anything runs)."""

    num_cpus: int | None = None  # for ray.init when no cluster is running; default: all
    # autoscaler config (Ray cluster launcher or KubeRay YAML) the plan may grow into, when the running cluster does
    # not report its autoscaler's node types itself
    cluster_config: Path | None = None
    simulators: int = Field(1, ge=1)  # simulator actors
    simulator_cpus: float = Field(1.0, ge=0)
    simulator_gpus: float | None = Field(None, ge=0)  # per simulator actor; default endpoints.carla.gpus_per_actor
    # for CARLA, 0 for the builtin simulator
    stage_cpus: float = Field(0.5, gt=0)  # CPU reservation of the CPU stages' tasks (and augment actors, replicas)
    augmenters: int = Field(1, ge=1)  # augment-stage actors; also the default max replicas of the Serve apps
    gpus_per_augmenter: float = Field(0.0, ge=0)  # GPUs reserved per Cosmos replica (0: the Gradio server owns them)
    stages: dict[StageName, StageResources] = {}  # per-stage overrides
    serve: ServeResources = Field(default_factory=ServeResources)
    # a clip whose stage fails with a transient error (a server, a connection, a lost worker or actor) is retried up
    # to this many times (Ray re-runs it when its worker process dies; the stage re-runs on retryable errors)
    clip_retries: int = Field(2, ge=0, le=100)
    retry_backoff: float = Field(1.0, ge=0)  # seconds before a clip's stage is retried (times the attempt number)

    @model_validator(mode="after")
    def _one_key_each(self):
        for (stage, key), flat in _FLAT_KEYS.items():
            s = self.stages.get(stage)
            if s is not None and getattr(s, key) is not None and flat in self.model_fields_set:
                raise ValueError(f"stages.{stage}.{key} and {flat} set the same thing: keep one")
        if self.serve.augment.gpus is not None and "gpus_per_augmenter" in self.model_fields_set:
            raise ValueError("serve.augment.gpus and gpus_per_augmenter set the same thing: keep one")
        return self


class Output(_Cfg):
    # a local folder (relative to the current directory) or a URI: s3://bucket/prefix, gs://bucket/prefix; the
    # endpoint and credentials come from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), never from here
    dir: str = "out/job"
    jpeg_quality: int = Field(90, ge=10, le=100)
    exports: list[Literal["coco", "odvg", "llava", "video"]] = ["coco", "odvg", "llava"]
    row_group_bytes: int = Field(64 << 20, gt=0)

    @field_validator("dir", mode="before")
    @classmethod
    def _dir(cls, v):
        from urllib.parse import urlsplit

        v = os.fspath(v) if isinstance(v, os.PathLike) else v
        if isinstance(v, str) and "://" in v:
            p = urlsplit(v)
            if p.username or p.password or "@" in p.netloc:
                raise ValueError("credentials do not belong in the config: set AWS_ACCESS_KEY_ID / "
                                 "AWS_SECRET_ACCESS_KEY (or an instance profile) in the environment")
            if p.query:
                raise ValueError("options do not belong in the URI: the endpoint and region come from "
                                 "AWS_ENDPOINT_URL / AWS_DEFAULT_REGION in the environment")
        return v


class JobConfig(_Cfg):
    name: str
    seed: int = 0
    cameras: list[CameraConfig] = Field(min_length=1)
    scenarios: list[Scenario] = Field(min_length=1)
    augmentation: Augmentation = Field(default_factory=Augmentation)
    splits: Splits = Field(default_factory=Splits)
    qa: QASettings = Field(default_factory=QASettings)
    backends: Backends = Field(default_factory=Backends)
    endpoints: Endpoints = Field(default_factory=Endpoints)
    resources: Resources = Field(default_factory=Resources)
    output: Output = Field(default_factory=Output)
    # split each scenario into clips of at most this many frames (the unit of simulate/augment and of a shard);
    # None: one clip per scenario and camera. Long 1080p clips are GBs of raw sensors: keep clips to a few seconds.
    clip_frames: int | None = Field(None, ge=2, le=10000)
    source: Path | None = Field(None, exclude=True)  # the file this came from

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ \t"):
            raise ValueError("must be a non-empty name without slashes or spaces")
        return v

    @model_validator(mode="after")
    def _refs(self):
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"cameras: duplicate names in {names}")
        ids = [s.id for s in self.scenarios]
        if len(set(ids)) != len(ids):
            raise ValueError(f"scenarios: duplicate ids in {ids}")
        for i, s in enumerate(self.scenarios):
            for c in s.cameras or []:
                if c not in names:
                    raise ValueError(f"scenarios.{i}.cameras: unknown camera {c!r} (known: {names})")
        unknown = sorted(set(self.splits.assign) - set(ids))
        if unknown:
            raise ValueError(f"splits.assign: unknown scenario ids {unknown} (scenarios: {ids})")
        return self

    def split_of(self) -> dict[str, str]:
        """{scenario id: "train" | "validation" | "test"} (see Splits)."""
        return self.splits.assign_all([s.id for s in self.scenarios], self.seed)


def _format_errors(path: str, err: ValidationError) -> str:
    lines = [f"{path}: invalid job config"]
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]
                       if not str(x).startswith("function-after") and x not in ("builtin", "recording"))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see configs/demo.yaml for the known keys)"
        lines.append(f"  {loc or '<root>'}: {msg}")
    return "\n".join(lines)


def _resolve_paths(cfg: JobConfig, base: Path) -> JobConfig:
    def fix(p: Path | None) -> Path | None:
        if p is None or p.is_absolute():
            return p
        return (base / p).resolve()

    for c in cfg.cameras:
        c.yaml = fix(c.yaml)
    for s in cfg.scenarios:
        if isinstance(s, RecordingScenario):
            s.log, s.scenario_json = fix(s.log), fix(s.scenario_json)
            s.camera_yaml, s.xodr = fix(s.camera_yaml), fix(s.xodr)
    return cfg


def parse_config(data: dict, source: str = "<config>", base: Path | None = None) -> JobConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a job config must be a YAML mapping, got {type(data).__name__}")
    try:
        cfg = JobConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(source, e)) from None
    if base is not None:
        cfg = _resolve_paths(cfg, base)
    return cfg


def load_config(path: str | os.PathLike) -> JobConfig:
    """Load and validate a job config. Relative paths inside it are relative to the current directory (the project
    folder, also under `ray job submit --working-dir .`)."""
    p = Path(path)
    data = read_yaml(p, ConfigError, "config file")
    cfg = parse_config(data, str(p), base=Path.cwd())
    cfg.source = p
    return cfg
