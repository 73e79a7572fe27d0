"""The contract between the pipeline and its Ray Serve apps (`serve/apps.py`): app and deployment names, when a job
uses Serve, the configuration fingerprint that decides whether a running app can be reused, what one replica
reserves (from the job's resource plan, sdg.plan), and the error types that cross the replica boundary. Imported by
both sides; imports neither.
"""
from __future__ import annotations

import hashlib
import json

from sdg.config import JobConfig
from sdg.plan import APP_NAMES, PROMPT_REPLICA_MAX_CPUS, replica_needs, uses_serve

AUGMENT_APP, PROMPT_APP = APP_NAMES
AUGMENT_DEPLOYMENT, PROMPT_DEPLOYMENT = "Augmenter", "Prompter"
DEPLOY_TIMEOUT_S = 300.0  # start-up deadline of both apps (replica processes + constructors), seconds
__all__ = ["AUGMENT_APP", "PROMPT_APP", "AUGMENT_DEPLOYMENT", "PROMPT_DEPLOYMENT", "DEPLOY_TIMEOUT_S",
           "PROMPT_REPLICA_MAX_CPUS", "ServeError", "uses_serve", "fingerprint", "replica_needs", "RemoteError",
           "portable", "unwrap", "resolve_frames"]


class ServeError(RuntimeError):
    """Deploying or reaching the Serve apps failed; the message says what to do."""


def fingerprint(cfg: JobConfig, app: str) -> str:
    """A short hash of the config fields that decide what an app computes (backend kind, server urls, models,
    Cosmos controls and request options). Two configs with the same fingerprint can share a running app."""
    from sdg.augment.cosmos_setup import cosmos_urls

    ep, aug = cfg.endpoints, cfg.augmentation
    if app == AUGMENT_APP:
        d = {"augmenter": cfg.backends.augmenter}
        if cfg.backends.augmenter == "cosmos":
            d.update(urls=cosmos_urls(cfg), controls=list(aug.controls), weights=dict(aug.control_weights),
                     cosmos=dict(aug.cosmos), model=ep.cosmos_model)
    elif app == PROMPT_APP:
        d = {"prompts": cfg.backends.prompts}
        if cfg.backends.prompts == "nim":
            d.update(vlm=ep.vlm_url, llm=ep.llm_url, vlm_model=ep.vlm_model, llm_model=ep.llm_model)
    else:
        raise ValueError(f"unknown Serve app {app!r}; known: {AUGMENT_APP}, {PROMPT_APP}")
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


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


def unwrap(e: BaseException) -> BaseException:
    """The replica's own exception out of Ray's wrapper (RayTaskError carries it as ``cause``)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def resolve_frames(value):
    """The array behind a value shipped by :class:`ServeAugmenter` / :class:`ServePromptSource`: an array, an
    ObjectRef of one, or a one-element list holding the ObjectRef (nested, so Ray does not resolve it early)."""
    import ray

    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, ray.ObjectRef):
        value = ray.get(value)
    return value
