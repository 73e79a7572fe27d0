"""The Serve apps seen as backends: :class:`ServeAugmenter` / :class:`ServePromptSource` make the `augment` and
`prompt` apps' deployment handles look like the Augmenter / PromptSource protocols (used by the augment stage).

A clip's frames go to the object store once and every variant's call passes the reference; arrays the remote side
does not read are dropped from the request. Errors raised in a replica come back as the replica's own exception
class name and message (e.g. ``CosmosOutputMismatch: clip …``), not as a Ray traceback dump.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sdg.serving.contract import AUGMENT_APP, AUGMENT_DEPLOYMENT, PROMPT_APP, PROMPT_DEPLOYMENT, ServeError, unwrap


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


def _connect(deployment: str, app: str, timeout_s: float):
    """The deployment's handle and the backend its replicas run (which also proves the app answers)."""
    handle = _handle(deployment, app)
    try:
        return handle, handle.backend.remote().result(timeout_s=timeout_s)
    except Exception as e:  # noqa: BLE001
        raise ServeError(f"Serve app {app!r} does not answer: {unwrap(e)}") from None


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
                raise unwrap(e) from None
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
        """The replica's :class:`~sdg.augment.base.Prompt` (text and provenance) for one variant."""
        ref = self._rgb_ref(clip_id, rgb)
        try:
            # in a list: the replica fetches it (resolve_frames)
            return self.handle.prompt.remote(clip_id, [ref], look, fps).result()
        except Exception as e:  # noqa: BLE001
            raise unwrap(e) from None

    def rewrite(self, instruction: str) -> str:
        """The prompt app's LLM on a free instruction (see PromptDeployment.rewrite)."""
        try:
            return self.handle.rewrite.remote(instruction).result()
        except Exception as e:  # noqa: BLE001
            raise unwrap(e) from None
