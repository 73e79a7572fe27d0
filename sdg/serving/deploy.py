"""Deploy the `augment` and `prompt` Serve apps of a job, and delete them afterwards.

:func:`deploy` starts Serve without an HTTP proxy (the pipeline calls the apps through deployment handles, so no
port is opened and nothing clashes with other servers), then deploys both apps and waits, up to a deadline, until
they are RUNNING. An app that is already running with the same backend configuration (a fingerprint of the
backend-relevant config fields, e.g. deployed ahead with ``serve deploy configs/serve.yaml``) is reused and left
running afterwards; one running with a different configuration is an error, never silently replaced.
:func:`shutdown` deletes only the apps :func:`deploy` created.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sdg.config import JobConfig
from sdg.serving.contract import AUGMENT_APP, DEPLOY_TIMEOUT_S, PROMPT_APP, ServeError, fingerprint, replica_needs

log = logging.getLogger("sdg.serving")


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


