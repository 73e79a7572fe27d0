"""`sdg run`: plan clips, resume from the output's manifest (redoing only clips whose inputs changed), stream the
rest through the pipeline, commit each clip as it arrives, record failures, then publish the exports.

The output is a :class:`sdg.storage.Location` (a local folder or ``s3://`` / ``gs://``): the write tasks publish
each clip's files atomically from whichever node they run on, and only the driver writes ``manifest.json``. A clip
counts as done when the manifest lists it with the fingerprint of its current inputs (sdg.fingerprints); a changed
input redoes exactly the clips it touches, and the manifest never lists rows made from two fingerprints.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sdg.clips import ClipSpec, plan_clips
from sdg.config import JobConfig
from sdg.export.shards import MANIFEST, Manifest, table_dir
from sdg.fingerprints import (
    changed_fields,
    clip_fingerprint,
    clip_inputs,
    config_fingerprint,
    config_inputs,
    describe,
)
from sdg.metrics import StageRecord, StageSummary, format_table, progress_line, summarize
from sdg.pipeline import build_pipeline, run_local, run_ray
from sdg.placement import validate_plan
from sdg.storage import Location, StorageError, open_location
from sdg.work import ClipFailed, ClipWork

log = logging.getLogger("sdg.run")
DASHBOARD_PORT = 8265  # Ray's default; another free port when it is taken
LOOPBACK = "127.0.0.1"

__all__ = ["RunError", "RunResult", "StorageError", "preflight", "init_ray", "run_job", "write_exports", "iter_rows"]


class RunError(Exception):
    """A run that cannot start (an unreachable cluster); the message says what to do. Nothing has been written."""


@dataclass
class RunResult:
    out_dir: str
    committed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> "stage: Error: message"
    failures: dict[str, ClipFailed] = field(default_factory=dict)
    redone: dict[str, str] = field(default_factory=dict)  # clip id -> why it is made again
    retries: dict[str, int] = field(default_factory=dict)  # clip id -> augment retries it needed
    trace: list[StageRecord] = field(default_factory=list)  # every stage's record of every clip (sdg.metrics)
    stages: list[StageSummary] = field(default_factory=list)  # per-stage figures of this run
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def reasons(self) -> list[str]:
        """One line per reason clips were made again: "3 clips re-done: config changed (augmentation.variants)"."""
        return [f"{n} clip{'s' if n > 1 else ''} re-done: {why}"
                for why, n in sorted(Counter(self.redone.values()).items(), key=lambda kv: (-kv[1], kv[0]))]

    def summary(self) -> dict:
        return {"committed": self.committed, "skipped": self.skipped, "failed": self.failed,
                "failures": {k: v.to_dict() for k, v in self.failures.items()}, "redone": self.redone,
                "retries": {"augment": sum(self.retries.values()), "per_clip": self.retries},
                "seconds": round(self.seconds, 2), "stages": [s.to_dict() for s in self.stages]}


def preflight(cfg: JobConfig) -> list[ClipSpec]:
    """Everything that can be checked before any worker starts: cameras, recordings, scenario kinds, endpoints.
    Raises with a message naming the file/field."""
    specs = plan_clips(cfg)
    from sdg.scenes import scene_for

    for s in {spec.scenario_id: spec for spec in specs}.values():
        scene_for(s.scenario)  # builds (and validates) the scene once in the driver
    return specs


# ------------------------------------------------------------------------------------------------ the cluster
def _probe(address: str) -> None:
    """Raise RunError unless something accepts TCP connections at a Ray address (``host:port``, ``ray://``)."""
    if address in ("auto", "local"):
        return
    target = address if "://" in address else f"tcp://{address}"
    p = urlsplit(target)
    if not p.hostname or not p.port:
        raise RunError(f"Ray address {address!r}: expected host:port (the head's GCS, e.g. 127.0.0.1:6379) or "
                       "ray://host:10001; fix --ray-address / RAY_ADDRESS")
    try:
        socket.create_connection((p.hostname, p.port), timeout=5.0).close()
    except OSError as e:
        raise RunError(f"cannot reach the Ray cluster at {address} ({e.strerror or type(e).__name__}); start it "
                       "(`ray start --head`) or fix --ray-address / RAY_ADDRESS (unset it to run on a local Ray)") \
            from None


def _pin_loopback() -> None:
    """Make a local Ray keep 127.0.0.1 as its node address (Ray replaces it with the machine's address unless
    multi-node clusters are off), so every Ray process listens on loopback only."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:  # read at import: already imported in this process
        import ray._private.ray_constants as ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def init_ray(cfg: JobConfig, address: str | None = None, node_ip: str | None = None, dashboard: bool = False) -> None:
    """Connect to the cluster at ``address`` (or ``$RAY_ADDRESS``, as inside `ray job submit`), else start a local
    Ray bound to 127.0.0.1 (``node_ip`` binds it to another address of this machine instead), with the Ray dashboard
    on that address when ``dashboard``. A cluster that does not answer is a RunError."""
    import ray

    if not ray.is_initialized():
        _start_ray(cfg, address, node_ip, dashboard)
    if dashboard:
        url = dashboard_url()
        log.info("Ray dashboard: %s (Jobs, Ray Data: one operator per stage, Serve, Metrics: sdg_stage_*) - it asks "
                 "for this cluster's token: `ray get-auth-token` prints it (never logged here)",
                 url or "not running on this cluster")
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = True
    ctx.execution_options.preserve_order = False


def dashboard_url() -> str | None:
    """The Ray dashboard's URL of the connected cluster (None when it runs none)."""
    try:
        from ray._private.worker import get_dashboard_url

        url = get_dashboard_url()
    except Exception:  # noqa: BLE001 - private API; the URL is a convenience
        return None
    return (url if url.startswith("http") else f"http://{url}") if url else None


def _start_ray(cfg: JobConfig, address: str | None, node_ip: str | None, dashboard: bool) -> None:
    import ray

    kwargs = dict(log_to_driver=True, configure_logging=True, logging_level=logging.WARNING)
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        _probe(address)
        try:
            ray.init(address=address, **kwargs)
        except Exception as e:  # noqa: BLE001 - ConnectionError, AuthenticationError, timeouts
            raise RunError(f"cannot connect to the Ray cluster at {address} ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:300] if str(e) else ''}); check the address, and with token "
                           "authentication set RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN_PATH or "
                           "~/.ray/auth_token)") from None
    else:
        if node_ip in (None, LOOPBACK, "localhost"):
            _pin_loopback()
        try:
            dash = dict(include_dashboard=True, dashboard_host=node_ip or LOOPBACK,
                        dashboard_port=_free_port(node_ip or LOOPBACK, DASHBOARD_PORT)) if dashboard else \
                dict(include_dashboard=False)
            ray.init(address="local", num_cpus=cfg.resources.num_cpus, _node_ip_address=node_ip or LOOPBACK,
                     **dash, **kwargs)
        except Exception as e:  # noqa: BLE001 - e.g. the raylet did not register within Ray's 30 s on a busy machine
            raise RunError(f"could not start a local Ray on {node_ip or LOOPBACK} ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:300] if str(e) else ''}); re-run (committed clips are kept), "
                           "or start one with `ray start --head` and pass --ray-address") from None


def _free_port(host: str, preferred: int) -> int:
    """``preferred`` when it is free on ``host``, else a free port the OS picks."""
    import socket

    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
                return s.getsockname()[1]
            except OSError:
                continue
    return preferred


# ------------------------------------------------------------------------------------------------ resume
@dataclass
class _Plan:
    todo: list[ClipSpec]
    skipped: list[str]
    redone: dict[str, str]
    config: dict  # config_inputs
    config_fp: str
    clips: dict[str, tuple[str, dict]]  # clip id -> (fingerprint, clip_inputs)


def plan_resume(cfg: JobConfig, specs: list[ClipSpec], manifest: Manifest) -> _Plan:
    """Which clips to make (new, failed before, inputs changed, files lost) and which are done, with the reason
    for every clip made again."""
    cfg_in = config_inputs(cfg)
    cfg_fp = config_fingerprint(cfg_in)
    listing = manifest.listing() if manifest.clips else {}
    todo, skipped, redone, clips = [], [], {}, {}
    for s in specs:
        inputs = clip_inputs(s)
        fp = clip_fingerprint(cfg_in, inputs)
        clips[s.clip_id] = (fp, inputs)
        entry = manifest.clips.get(s.clip_id)
        if entry is None:
            failed = manifest.failed.get(s.clip_id)
            if failed:
                redone[s.clip_id] = f"failed last run ({failed.get('stage')}: {failed.get('error')})"
            todo.append(s)
        elif entry.get("fingerprint") != fp:
            if "fingerprint" not in entry:
                redone[s.clip_id] = "made by an older sdg without fingerprints"
            else:
                old_cfg = manifest.configs.get(entry.get("config_fingerprint"))
                fields = changed_fields(old_cfg, cfg_in) if entry.get("config_fingerprint") != cfg_fp else []
                fields += changed_fields(entry.get("inputs"), inputs)
                redone[s.clip_id] = describe(fields)
            todo.append(s)
        elif manifest.missing_files(s.clip_id, listing):
            redone[s.clip_id] = f"files missing ({', '.join(manifest.missing_files(s.clip_id, listing))})"
            todo.append(s)
        else:
            skipped.append(s.clip_id)
    return _Plan(todo, skipped, redone, cfg_in, cfg_fp, clips)


def wipe(loc: Location) -> None:
    """`--overwrite`: remove what sdg wrote at ``loc`` (manifest, per-clip tables, exports, inspect sheets), and
    nothing else."""
    try:
        old = Manifest(loc)
        dirs = old._table_dirs()
    except Exception:  # noqa: BLE001 - a corrupt manifest is exactly what --overwrite replaces
        dirs = {table_dir("frames")}
    for d in sorted(dirs | {"exports", "inspect"}):
        loc.delete_tree(d)
    loc.delete(MANIFEST)


# ------------------------------------------------------------------------------------------------ the run
def run_job(cfg: JobConfig, out_dir=None, executor: str = "ray", exports: bool = True, overwrite: bool = False,
            ray_address: str | None = None, node_ip: str | None = None, transport: bool = False,
            dashboard: bool = False) -> RunResult:
    """Run a job into ``out_dir`` (a local path or URI; default ``output.dir``). Raises StorageError, RunError,
    sdg.placement.PlanError or sdg.export.shards.ManifestError, before anything is written, when the run cannot
    start. ``transport`` makes the in-process executor pass every stage boundary through the Ray adapter's codec."""
    t0 = time.time()
    specs = preflight(cfg)
    loc = open_location(out_dir if out_dir is not None else cfg.output.dir)
    loc.check_writable()
    pipeline = build_pipeline(cfg, loc.uri)
    if overwrite:
        wipe(loc)
    manifest = Manifest(loc, job=cfg.name)
    plan = plan_resume(cfg, specs, manifest)
    if plan.todo and executor != "local":  # reach the cluster before anything is written
        init_ray(cfg, ray_address, node_ip, dashboard)
        validate_plan(cfg, clips=len(plan.todo))  # PlanError when the plan cannot be placed
    result = RunResult(out_dir=loc.display(), skipped=plan.skipped, redone=plan.redone)
    for line in result.reasons():
        log.warning("%s", line)
    manifest.uncommit(s.clip_id for s in plan.todo)
    removed = manifest.clean_uncommitted()
    if removed:
        log.warning("removed %d uncommitted file(s) left by an earlier run", len(removed))
    manifest.configs[plan.config_fp] = plan.config
    manifest.save(config=json.loads(cfg.model_dump_json()), config_fingerprint=plan.config_fp,
                  planned=[s.clip_id for s in specs])
    if plan.todo:
        todo = [ClipWork(spec=s) for s in plan.todo]
        if executor == "local" and cfg.backends.serve != "never":
            # in-process executor: no cluster, so the stages use the backends' clients directly
            cfg = cfg.model_copy(update={"backends": cfg.backends.model_copy(update={"serve": "never"})})
            pipeline = build_pipeline(cfg, loc.uri)
        _execute(cfg, pipeline, todo, executor, manifest, plan, result, ray_address, node_ip, transport)
    if exports and manifest.clips:
        write_exports(cfg, loc, manifest)
    result.seconds = time.time() - t0
    manifest.save(last_run=result.summary())
    return result


def _execute(cfg, pipeline, todo, executor, manifest, plan, result, ray_address, node_ip, transport) -> None:
    deployment = None
    errored = _ErroredBlocks()
    if executor == "local":
        stream = run_local(pipeline, todo, transport=transport)
    else:
        init_ray(cfg, ray_address, node_ip)  # already done by run_job unless called on its own
        from ray.data import DataContext

        from sdg.serving.contract import uses_serve
        from sdg.serving.deploy import deploy

        if uses_serve(cfg):
            deployment = deploy(cfg)
        # a clip whose task still fails after Ray's retries (its worker died every time) loses only that clip
        ctx = DataContext.get_current()
        errored.saved = ctx.max_errored_blocks
        ctx.max_errored_blocks = -1
        errored.attach()
        stream = run_ray(pipeline, todo)
    try:
        _consume(stream, manifest, plan, result, len(todo), pipeline.pool_sizes())
    except Exception as e:  # noqa: BLE001 - the stream broke: the clips not yet back are failed, retried next run
        log.error("the pipeline stopped: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(logging.DEBUG))
        errored.records.append(("pipeline", e))
    finally:
        errored.detach()
        if errored.saved is not None:
            from ray.data import DataContext

            DataContext.get_current().max_errored_blocks = errored.saved
        if deployment is not None:
            from sdg.serving.deploy import shutdown

            shutdown(deployment)
    lost = [w.clip_id for w in todo if w.clip_id not in result.failed and w.clip_id not in result.committed]
    for clip_id in lost:
        _fail(ClipFailed(clip_id=clip_id, **errored.describe(len(lost), pipeline.attempts - 1)), manifest, result)
    if lost:
        manifest.save()


def _fail(item: ClipFailed, manifest: Manifest, result: RunResult) -> None:
    result.failed[item.clip_id] = str(item)
    result.failures[item.clip_id] = item
    manifest.record_failure(item.clip_id, item.to_dict())
    log.error("clip %s failed after %d attempt(s): %s", item.clip_id, item.attempts, item)


def _consume(stream, manifest: Manifest, plan: _Plan, result: RunResult, total: int, actors: dict[str, int]) -> None:
    for done, (item, trace) in enumerate(((d.item, d.trace) for d in stream), start=1):
        result.trace.extend(trace)
        if isinstance(item, ClipFailed):
            _fail(item, manifest, result)
            manifest.save()
        else:
            fp, inputs = plan.clips[item.clip_id]
            entry = {**item.shard.to_dict(), "fingerprint": fp, "config_fingerprint": plan.config_fp,
                     "inputs": inputs}
            retries = int((entry.get("stats") or {}).get("augment_retries") or 0)
            if retries:
                result.retries[item.clip_id] = retries
            manifest.commit(entry)
            result.committed.append(item.clip_id)
        log.info("%s", progress_line(result.trace, done, total, actors))
    result.stages = summarize(result.trace, actors=actors)
    if result.stages:
        log.debug("stages of this run:\n%s", format_table(result.stages))


class _ErroredBlocks(logging.Handler):
    """Catches Ray Data's report of a task that failed for good (``An exception was raised from a task of operator
    "MapBatches(simulate)"``): the stage and the error of clips that never came back."""

    _OP = re.compile(r'operator "([^"]+)"')
    _LOGGER = "ray.data._internal.execution.streaming_executor_state"

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[tuple[str, BaseException | None]] = []
        self.saved: int | None = None  # DataContext.max_errored_blocks before the run

    def emit(self, record: logging.LogRecord) -> None:
        m = self._OP.search(record.getMessage())
        if m:
            stages = re.findall(r"\(([A-Za-z0-9_]+)\)", m.group(1)) or [m.group(1)]
            self.records.append(("->".join(stages), record.exc_info[1] if record.exc_info else None))

    def attach(self) -> None:
        logging.getLogger(self._LOGGER).addHandler(self)

    def detach(self) -> None:
        logging.getLogger(self._LOGGER).removeHandler(self)

    def describe(self, n_lost: int, retries: int) -> dict:
        """ClipFailed fields for a clip that never came back."""
        stages = sorted({s for s, _ in self.records})
        errors = [e for _, e in self.records if e is not None]
        e = errors[-1] if errors else None
        stage = stages[0] if len(stages) == 1 else ("/".join(stages) if stages else "unknown")
        cause = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}" if e else "no error reported"
        error = type(e).__name__ if stage == "pipeline" and e is not None else "WorkerLost"
        return dict(stage=stage, error=error, retryable=True, attempts=retries + 1,
                    message=f"the clip never came back from Ray ({cause}); Ray re-ran it up to "
                            f"resources.clip_retries={retries} time(s); the next run retries it")


# ------------------------------------------------------------------------------------------------ reading, exports
def iter_rows(manifest: Manifest, columns: list[str] | None = None):
    """Every committed frame row, clip by clip (read from the manifest's location, local or remote)."""
    import pyarrow.parquet as pq

    for rel in manifest.files():
        with manifest.location.open_input(rel) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=16, columns=columns):
                yield from batch.to_pylist()


def write_exports(cfg: JobConfig, out, manifest: Manifest | None = None) -> dict[str, str]:
    """The dataset's exports (sdg.export.dataset: per split the configured exports, AI City / WTS / Q&A files, the
    reports and the dataset card), built from the committed clips into a local staging folder laid out as the output
    root, then published to the output location: media first, the files that name them last (JSON, JSONL, Parquet
    indexes, the card). Export and report files of earlier runs that are no longer made are removed. Returns {what:
    its file as a path or URI}."""
    from sdg.export.dataset import DatasetExport

    loc = open_location(out)
    manifest = manifest or Manifest(loc)
    tmp_parent = loc.local_path() if loc.local else None  # local: same filesystem, publishing is a rename
    if tmp_parent is not None:
        for old in tmp_parent.glob(".exports-*.tmp"):  # left by a run killed while exporting
            shutil.rmtree(old, ignore_errors=True)
    written: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=".exports-", suffix=".tmp", dir=tmp_parent) as tmp:
        stage = Path(tmp)
        target = stage / "exports"
        target.mkdir(parents=True, exist_ok=True)
        dataset = DatasetExport(cfg, manifest, stage)
        built = {name: Path(dataset.export(name, target)) for name in cfg.output.exports}
        built.update({k: Path(v) for k, v in dataset.finish(target).items()})
        index = (".json", ".jsonl", ".parquet", ".md")
        files = sorted((p for p in stage.rglob("*") if p.is_file()),
                       key=lambda p: (p.suffix in index, p.name == "README.md", str(p)))
        published = set()
        for p in files:
            rel = p.relative_to(stage).as_posix()
            loc.publish_file(p, rel, move=True)
            published.add(rel)
        for folder in ("exports", "reports"):
            for rel in loc.list(folder):
                if rel not in published:
                    loc.delete(rel)
        for name, p in built.items():
            written[name] = loc.display(p.relative_to(stage).as_posix())
    return written
    return written
