"""The pipeline's side of Ray Serve: deploy the `augment` and `prompt` apps of a job, and adapters that make their
deployment handles look like the Augmenter / PromptSource protocols.

- :func:`deploy` starts Serve without an HTTP proxy (the pipeline calls the apps through deployment handles, so no
  port is opened and nothing clashes with other servers), then deploys both apps and waits, up to a deadline, until
  they are RUNNING. An app that is already running with the same backend configuration (a fingerprint of the
  backend-relevant config fields, e.g. deployed ahead with ``serve deploy configs/serve.yaml``) is reused and left
  running afterwards; one running with a different configuration is an error, never silently replaced.
- :func:`shutdown` deletes only the apps :func:`deploy` created.
- :class:`ServeAugmenter` / :class:`ServePromptSource` are used by the augment stage's actors. A clip's frames go to
  the object store once and every variant's call passes the reference; arrays the remote side does not read are
  dropped from the request. Errors raised in a replica come back as the replica's own exception class name and
  message (e.g. ``CosmosOutputMismatch: clip …``), not as a Ray traceback dump.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from sdg.config import JobConfig

log = logging.getLogger("sdg.serving")

AUGMENT_APP, PROMPT_APP = "augment", "prompt"
AUGMENT_DEPLOYMENT, PROMPT_DEPLOYMENT = "Augmenter", "Prompter"
DEPLOY_TIMEOUT_S = 300.0  # start-up deadline of both apps (replica processes + constructors), seconds
PROMPT_REPLICA_MAX_CPUS = 0.25  # the prompt replicas only wait on the NIMs


class ServeError(RuntimeError):
    """Deploying or reaching the Serve apps failed; the message says what to do."""


def uses_serve(cfg: JobConfig) -> bool:
    """Whether the augment stage goes through the Serve apps (``backends.serve``: auto = when a backend is remote)."""
    mode = cfg.backends.serve
    if mode == "auto":
        return cfg.backends.augmenter != "builtin" or cfg.backends.prompts != "template"
    return mode == "always"


def fingerprint(cfg: JobConfig, app: str) -> str:
    """A short hash of the config fields that decide what an app computes (backend kind, server urls, models,
    Cosmos controls and request options). Two configs with the same fingerprint can share a running app."""
    from sdg.augment.cosmos import cosmos_urls

    ep, aug = cfg.endpoints, cfg.augmentation
    if app == AUGMENT_APP:
        d = {"augmenter": cfg.backends.augmenter}
        if cfg.backends.augmenter == "cosmos":
            d.update(urls=cosmos_urls(cfg), controls=list(aug.controls), weights=dict(aug.control_weights),
                     cosmos=dict(aug.cosmos))
    elif app == PROMPT_APP:
        d = {"prompts": cfg.backends.prompts}
        if cfg.backends.prompts == "nim":
            d.update(vlm=ep.vlm_url, llm=ep.llm_url, vlm_model=ep.vlm_model, llm_model=ep.llm_model)
    else:
        raise ValueError(f"unknown Serve app {app!r}; known: {AUGMENT_APP}, {PROMPT_APP}")
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Deployment:
    """What :func:`deploy` did: the apps it created (deleted by :func:`shutdown`) and the ones it reused."""

    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


def _app_statuses() -> dict[str, tuple[str, str]]:
    from ray import serve

    return {name: (str(getattr(a.status, "value", a.status)), a.message or "")
            for name, a in serve.status().applications.items()}


def _running_fingerprint(app: str, timeout_s: float = 30.0) -> str | None:
    from ray import serve

    try:
        return serve.get_app_handle(app).fingerprint.remote().result(timeout_s=timeout_s)
    except Exception as e:  # noqa: BLE001 - an app of another program, or unreachable
        log.debug("Serve app %s: no fingerprint (%s)", app, e)
        return None


def _why(app: str) -> str:
    """The last line of each of ``app``'s deployment messages (a replica constructor's exception, a scheduling
    problem), redacted."""
    from ray import serve

    from sdg.augment.http import redact

    try:
        a = serve.status().applications.get(app)
    except Exception:  # noqa: BLE001
        return ""
    lines = []
    for name, d in (a.deployments.items() if a else ()):
        msg = [x.strip() for x in (d.message or "").strip().splitlines() if x.strip()]
        if msg:
            lines.append(f"{name}: {msg[-1][:600]}")
    return redact("; ".join(lines))


def replica_needs(cfg: JobConfig) -> dict[str, dict[str, float]]:
    """Resources one replica of each app reserves (mirrors serve.apps)."""
    r = cfg.resources
    aug = {"CPU": r.stage_cpus}
    if cfg.backends.augmenter == "cosmos" and r.gpus_per_augmenter:
        aug["GPU"] = r.gpus_per_augmenter
    return {AUGMENT_APP: aug, PROMPT_APP: {"CPU": min(PROMPT_REPLICA_MAX_CPUS, r.stage_cpus)}}


def _run_with_deadline(targets: dict, deadline: float, needs: dict | None = None) -> None:
    """serve.run each of ``targets`` ({app name: application}) concurrently and wait until all are RUNNING or the
    deadline passes (Serve itself waits forever for replicas that cannot be placed)."""
    from ray import serve

    errors: dict[str, BaseException] = {}

    def run(name, target):
        try:
            serve.run(target, name=name, route_prefix=None)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors[name] = e

    threads = {name: threading.Thread(target=run, args=(name, t), name=f"serve-run-{name}", daemon=True)
               for name, t in targets.items()}
    for th in threads.values():
        th.start()
    for th in threads.values():
        th.join(max(0.0, deadline - time.monotonic()))
    late = [name for name, th in threads.items() if th.is_alive()]
    if late:
        statuses = _app_statuses()
        name = late[0]
        status, message = statuses.get(name, ("?", ""))
        import ray

        total = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        free = {k: round(v, 2) for k, v in ray.available_resources().items() if k in ("CPU", "GPU")}
        need = (needs or {}).get(name)
        raise ServeError(
            f"Serve app {name!r} did not start in time (status {status}: {message or _why(name) or 'no message'}). "
            f"Each replica reserves {need} (resources.stage_cpus, and resources.gpus_per_augmenter for Cosmos); "
            f"the cluster has {total}, {free} free: lower them or add nodes, and check the replica logs "
            "(`ray logs`, the Ray dashboard)")
    for name, e in errors.items():
        why = _why(name)
        raise ServeError(f"Serve app {name!r} failed to deploy: {type(e).__name__}: {str(e)[:600]}"
                         + (f" ({why})" if why else "")) from None


def deploy(cfg: JobConfig, timeout_s: float = DEPLOY_TIMEOUT_S) -> Deployment:
    """Start Serve (proxy disabled) and the `augment` and `prompt` apps of ``cfg`` on the connected Ray cluster;
    return when both are RUNNING. Raises :class:`ServeError` (after deleting what it created) on a failed
    deployment, a deadline of ``timeout_s`` seconds, or an app of that name running with another configuration."""
    from ray import serve

    from serve.apps import augment_app, prompt_app

    serve.start(proxy_location="Disabled")  # no-op (with a warning) when Serve already runs on the cluster
    deadline = time.monotonic() + timeout_s
    statuses = _app_statuses()
    done = Deployment()
    targets = {}
    for name, build in ((AUGMENT_APP, augment_app), (PROMPT_APP, prompt_app)):
        want = fingerprint(cfg, name)
        if name in statuses:
            state = statuses[name][0]
            have = _running_fingerprint(name) if state == "RUNNING" else None
            if have == want:
                log.info("reusing the running Serve app %r (same backend configuration)", name)
                done.reused.append(name)
                continue
            what = "with another configuration" if have else f"in state {state} (configuration unknown)"
            raise ServeError(
                f"a Serve app named {name!r} is already running {what}: it was deployed by `serve deploy` or an "
                f"earlier run. Delete it (`serve shutdown`, or serve.delete({name!r})) or run the job with the "
                "config it was deployed with")
        log.info("deploying Serve app %r (%s)", name, want)
        targets[name] = build(cfg)
    done.created = list(targets)
    try:
        _run_with_deadline(targets, deadline, replica_needs(cfg))
    except BaseException:
        shutdown(done)  # also ends the waiting threads ("application doesn't exist")
        raise
    return done


def shutdown(deployment: Deployment | None = None, timeout_s: float = 60.0) -> None:
    """Delete the apps ``deployment`` created (both apps when None), concurrently, waiting up to ``timeout_s``
    seconds for them to go. Serve itself keeps running."""
    from ray import serve

    names = [AUGMENT_APP, PROMPT_APP] if deployment is None else list(deployment.created)
    pending = []
    for app in names:
        try:
            serve.delete(app, _blocking=False)
            pending.append(app)
        except Exception as e:  # noqa: BLE001 - best effort at the end of a run
            log.warning("could not delete Serve app %r: %s", app, e)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        try:
            live = _app_statuses()
        except Exception:  # noqa: BLE001 - Serve went away: nothing left to wait for
            return
        pending = [a for a in pending if a in live]
        if pending:
            time.sleep(0.2)
    if pending:
        log.warning("Serve apps %s are still shutting down after %.0f s", pending, timeout_s)


class RemoteError(RuntimeError):
    """Stands in for a replica's exception that cannot be pickled (an ``__init__`` with extra required arguments):
    :func:`portable` gives it the original class name and message, so the clip's error still reads e.g.
    ``CosmosOutputMismatch: clip …``."""

    kind = "RemoteError"

    def __reduce__(self):
        return (_remote_error, (self.kind, str(self)))


def _remote_error(kind: str, message: str) -> RemoteError:
    cls = type(kind, (RemoteError,), {"kind": kind, "__module__": __name__})
    return cls(message)


def portable(e: BaseException) -> BaseException:
    """``e`` if it survives pickling (as Ray ships exceptions from replicas to callers), else a
    :class:`RemoteError` with its class name and message."""
    import pickle

    try:
        back = pickle.loads(pickle.dumps(e))
        if type(back) is type(e) and str(back) == str(e):
            return e
    except Exception:  # noqa: BLE001 - exactly the case handled here
        pass
    return _remote_error(type(e).__name__, str(e))


def _unwrap(e: BaseException) -> BaseException:
    """The replica's own exception out of Ray's wrapper (RayTaskError carries it as ``cause``)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def _handle(deployment: str, app: str):
    from ray import serve

    try:
        return serve.get_deployment_handle(deployment, app_name=app)
    except Exception as e:  # noqa: BLE001
        raise ServeError(f"Serve app {app!r} is not running ({type(e).__name__}: {e}); `sdg run` deploys it when "
                         "backends.serve is auto/always, or deploy it with `serve deploy configs/serve.yaml`") from None


def _slim(req, video_only: bool):
    """The request without the arrays the remote side does not read: raw control frames already encoded as control
    videos, and for a video-in/video-out augmenter (Cosmos: rgb + control videos) depth, semantic and lights.
    A 1080p clip of 93 frames carries ~0.6 GB of rgb, ~0.8 GB of depth and ~0.6 GB per raw control."""
    if req.control_videos and req.controls:
        req = replace(req, controls={k: v for k, v in req.controls.items() if k not in req.control_videos})
    if video_only:
        req = replace(req, depth=np.empty((0,), np.float32), semantic=np.empty((0,), np.uint8), lights=[])
    return req


def resolve_frames(value):
    """The array behind a value shipped by :class:`ServeAugmenter` / :class:`ServePromptSource`: an array, an
    ObjectRef of one, or a one-element list holding the ObjectRef (nested, so Ray does not resolve it early)."""
    import ray

    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, ray.ObjectRef):
        value = ray.get(value)
    return value


def _connect(deployment: str, app: str, timeout_s: float):
    """The deployment's handle and the backend its replicas run (which also proves the app answers)."""
    handle = _handle(deployment, app)
    try:
        return handle, handle.backend.remote().result(timeout_s=timeout_s)
    except Exception as e:  # noqa: BLE001
        raise ServeError(f"Serve app {app!r} does not answer: {_unwrap(e)}") from None


class ServeAugmenter:
    """Augmenter over the `augment` app's handle; :meth:`augment_many` keeps several replicas busy at once.
    ``name`` is ``serve:augment/<backend>`` (the replica's augmenter, e.g. cosmos). The variants of one clip share
    one object-store copy of its frames."""

    def __init__(self, timeout_s: float = 60.0):
        self.handle, self.backend = _connect(AUGMENT_DEPLOYMENT, AUGMENT_APP, timeout_s)
        self.name = f"serve:{AUGMENT_APP}/{self.backend}"

    def augment(self, req):
        return self.augment_many([req])[0]

    def augment_many(self, reqs):
        import ray

        refs: dict[int, object] = {}
        futures = []
        for r in reqs:
            r = _slim(r, video_only=self.backend == "cosmos")
            if id(r.rgb) not in refs:
                refs[id(r.rgb)] = ray.put(r.rgb)
            futures.append(self.handle.augment.remote(replace(r, rgb=[refs[id(r.rgb)]])))
        out = []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as e:  # noqa: BLE001
                raise _unwrap(e) from None
        return out


class ServePromptSource:
    """PromptSource over the `prompt` app's handle; ``name`` is ``serve:prompt/<source>`` (e.g. nim).

    The clip's frames go to the object store once per clip (every variant's call passes the same reference)."""

    def __init__(self, timeout_s: float = 60.0):
        self.handle, source = _connect(PROMPT_DEPLOYMENT, PROMPT_APP, timeout_s)
        self.name = f"serve:{PROMPT_APP}/{source}"
        self._clip: tuple[str, int, object] | None = None  # (clip id, id(rgb), ObjectRef of rgb)

    def _rgb_ref(self, clip_id: str, rgb):
        import ray

        if self._clip is None or self._clip[0] != clip_id or self._clip[1] != id(rgb):
            self._clip = (clip_id, id(rgb), ray.put(rgb))
        return self._clip[2]

    def prompt(self, clip_id, rgb, look, fps):
        ref = self._rgb_ref(clip_id, rgb)
        try:
            # in a list: the replica fetches it (resolve_frames)
            return self.handle.prompt.remote(clip_id, [ref], look, fps).result()
        except Exception as e:  # noqa: BLE001
            raise _unwrap(e) from None
