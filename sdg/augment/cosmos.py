"""Cosmos-Transfer2.5 client: augments a clip through the Gradio server of the ``cosmos-gradio`` package.

Protocol (server endpoints, listed by ``gradio_client.Client(url).view_api()``):

* ``/upload_file(file)`` → JSON text ``{"path": <server path>}`` or ``{"error": <message>}``.
* ``/generate_video(request_text)`` → ``(video file | None, status text)``; the status text is the JSON of
  ``{rank, status, request_id, result: {"videos": [server paths]}}``. A bad request gives
  ``(None, "Error parsing request JSON: …")`` or a status holding the validation error with ``result == {}``; when
  the workers time out the server restarts them and answers with an empty result (transient: we retry). Older
  deployments answered with a text containing ``Result json: {"videos": [...]}`` and served the file at
  ``GET {url}/gradio_api/file=<path>``; both forms are accepted.

The request JSON follows the server's pydantic ``InferenceArguments`` (extra fields are rejected there): ``name``,
``prompt``, ``negative_prompt``, ``seed``, ``guidance``, ``num_steps``, ``sigma_max`` (a string), ``resolution``,
``num_conditional_frames``, ``num_video_frames_per_chunk``, ``max_frames``, ``keep_input_resolution``,
``video_path`` and one ``{control_path, control_weight}`` block per control (``edge``, ``vis``, ``depth``, ``seg``).
``max_frames`` is always the clip's frame count, so clips longer than one chunk are generated whole (the server
chunks internally by ``num_video_frames_per_chunk``). The returned video is checked: same frame count and
resolution as the input, else :class:`CosmosOutputMismatch` — augmented frames are only usable when they align with
the ground truth.

The server runs one model (``MODEL_NAME``) that takes only its own control blocks (:mod:`sdg.augment.cosmos_model`).
The client reads the model from the server's UI description when the server announces it, else uses
``endpoints.cosmos_model``; controls the job left unset become the model's controls (of those the clip carries), and
controls the job set explicitly must be ones the model takes (the preflight stops with one line otherwise).
Videos go up as H.264: the input at high quality (yuv420p, crf 16), the controls lossless 4:4:4 (``qp 0``).
"""
from __future__ import annotations

import inspect
import json
import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence
from urllib.parse import quote

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sdg.augment.base import AugmentRequest
from sdg.augment.cosmos_model import CONTROL_KEYS, MODEL_CONTROLS, model_from_gradio_config, model_problem
from sdg.augment.http import redact, redact_url, retry
from sdg.augment.video import VideoError, even_size, read_mp4, write_mp4
from sdg.verdict import Verdict

__all__ = ["CONTROL_KEYS", "CosmosError", "CosmosRequestError", "CosmosUnavailable", "CosmosOutputMismatch",
           "CosmosOptions", "CosmosTransferClient", "parse_status"]

log = logging.getLogger(__name__)


class CosmosError(Exception):
    """Base of the Cosmos-Transfer client's errors."""


class CosmosRequestError(CosmosError):
    """The server rejected the request or could not run it (not retried: repeating it would fail the same way)."""


class CosmosUnavailable(CosmosError):
    """Transient failures (connection, 5xx, worker restarts, timeouts) persisted through every retry."""

    retryable = True  # the clip may still succeed later (sdg.work.may_retry)


class CosmosOutputMismatch(CosmosError):
    """The returned video does not have the input's frame count or resolution."""

    def __init__(self, clip_id: str, expected: tuple[int, int, int], got: tuple[int, int, int], hint: str = ""):
        self.clip_id, self.expected, self.got, self.hint = clip_id, expected, got, hint
        super().__init__(
            f"clip {clip_id}: Cosmos-Transfer returned {got[0]} frames of {got[2]}x{got[1]}, expected {expected[0]} "
            f"frames of {expected[2]}x{expected[1]}; the augmented frames cannot be aligned with the ground truth"
            f"{hint}")

    def __reduce__(self):  # crosses process boundaries (Ray Serve replicas) intact
        return (CosmosOutputMismatch, (self.clip_id, self.expected, self.got, self.hint))


class _Transient(Exception):
    """Internal: a failure worth retrying (message already redacted)."""


class CosmosOptions(BaseModel):
    """Request fields a job may set (``augmentation.cosmos`` in the job config). Defaults are the server's."""

    model_config = ConfigDict(extra="forbid")

    guidance: int = Field(3, ge=0, le=7)
    num_steps: int = Field(35, gt=0)
    sigma_max: str | None = None  # the server takes a string, 0..200
    resolution: str = "720"
    num_conditional_frames: Literal[0, 1, 2] = 1
    num_video_frames_per_chunk: int = Field(93, gt=0)
    keep_input_resolution: Literal[True] = True  # the output must align with the ground truth pixel for pixel
    negative_prompt: str | None = None  # used when the request has none; None: the server's default

    @field_validator("sigma_max", "resolution", mode="before")
    @classmethod
    def _to_str(cls, v):
        return None if v is None else str(v)


def parse_status(text: str) -> tuple[str, list[str]]:
    """``(status, video paths)`` from the server's status text: the JSON of ``{status, result: {videos}}`` or the
    older ``… Result json: {"videos": [...]}`` form. Raises :class:`CosmosRequestError` for a request the server
    could not parse. An unrecognised text is returned as the status with no videos."""
    text = (text or "").strip()
    if text.startswith("Error parsing request JSON"):
        raise CosmosRequestError(f"the server could not parse the request: {text[:500]}")
    try:
        d = json.loads(text)
    except ValueError:
        d = None
    if isinstance(d, dict):
        result = d.get("result") or {}
        videos = (result.get("videos") or result.get("images") or []) if isinstance(result, dict) else []
        return str(d.get("status", "")), [str(v) for v in videos]
    m = re.search(r"Result json:\s*(\{.*\})", text, re.S)
    if m:
        try:
            r = json.loads(m.group(1))
        except ValueError:
            return text, []
        videos = (r.get("videos") or []) if isinstance(r, dict) else []
        return "success" if videos else text, [str(v) for v in videos]
    return text, []


_TRANSIENT_STATUS = re.compile(r"(?i)time[ -]?out|timed out|restart|not re?sp?onsive|unexpected request id|^unknown$")


def _classify(e: BaseException) -> bool:
    """True for failures that may pass by retrying."""
    if isinstance(e, _Transient):
        return True
    if isinstance(e, httpx.HTTPStatusError):
        return e.response.status_code >= 500 or e.response.status_code == 429
    if isinstance(e, (httpx.TransportError, ConnectionError, TimeoutError)):
        return True
    name = type(e).__name__
    # gradio_client's "queue is full" / rate limits, and a call its job loop cancelled (a dropped connection)
    return name in ("QueueError", "TooManyRequestsError", "CancelledError")


def _safe_name(clip_id: str, variant: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{clip_id}_v{variant}").strip("._")[:120] or "clip"


def _local_video_path(out: Any) -> str | None:
    """The local file gradio_client downloaded for a Video output (a path, or {"video": path | {"path"}})."""
    if isinstance(out, (list, tuple)) and out:
        out = out[0]
    if isinstance(out, dict):
        out = out.get("video") or out.get("path") or out.get("value")
        if isinstance(out, dict):
            out = out.get("path")
    if isinstance(out, (str, os.PathLike)) and os.path.isfile(out):
        return str(out)
    return None


class CosmosTransferClient:
    """An :class:`~sdg.augment.base.Augmenter` backed by a Cosmos-Transfer2.5 Gradio server.

    Args:
        url: the server root, e.g. ``http://cosmos:8080``.
        timeout: seconds one ``/generate_video`` call may take (generation is minutes per 93-frame chunk).
        retries: extra attempts after a transient failure (each attempt re-uploads and regenerates).
        backoff, max_backoff: first backoff wait and its cap, seconds (doubling per retry, jittered).
        controls: control names to send (any of edge, vis, depth, seg); None: the controls of the server's model
            (see ``model``) that the request carries.
        control_weights: weight per control in [0, 1] (default 1.0).
        options: request fields (:class:`CosmosOptions`, e.g. guidance, num_steps, sigma_max).
        token_env: name of an env variable whose value gradio_client sends as a bearer token (e.g. HF_TOKEN for a
            private Space); None sends none.
        http_timeout: seconds for uploads, downloads and the API description.
        model: the ``MODEL_NAME`` the server is expected to run (``endpoints.cosmos_model``); used when the server
            does not announce its model. None (and no announcement): every control the request carries is sent.
        model_explicit: ``model`` was set by the job (a server announcing another model is then a mismatch).
        made_controls: the controls the job's ground-truth stage makes (its default ``augmentation.controls``);
            with ``controls`` None the preflight checks the model takes at least one of them and names those sent.
    """

    name = "cosmos"

    def __init__(self, url: str, timeout: float = 3600.0, retries: int = 3, backoff: float = 5.0,
                 max_backoff: float = 120.0, controls: Sequence[str] | None = None,
                 control_weights: Mapping[str, float] | None = None, options: Mapping[str, Any] | None = None,
                 token_env: str | None = None, http_timeout: float = 120.0, model: str | None = None,
                 model_explicit: bool = False, made_controls: Sequence[str] | None = None):
        if not url or not url.startswith(("http://", "https://")):
            raise ValueError(f"Cosmos-Transfer url must start with http:// or https://, got {redact_url(url or '')!r}")
        if retries < 0 or timeout <= 0:
            raise ValueError(f"need retries >= 0 and timeout > 0, got retries={retries}, timeout={timeout}")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.http_timeout = float(http_timeout)
        self.retries = int(retries)
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        if controls is not None:
            bad = [c for c in controls if c not in CONTROL_KEYS]
            if bad:
                raise ValueError(f"controls: unknown {bad}; Cosmos-Transfer2.5 takes {list(CONTROL_KEYS)}")
            if not controls:
                raise ValueError("controls: give at least one control (Cosmos-Transfer2.5 needs one)")
        self.controls = None if controls is None else [c for c in CONTROL_KEYS if c in controls]
        self.control_weights = {c: 1.0 for c in CONTROL_KEYS}
        for k, w in (control_weights or {}).items():
            if k not in CONTROL_KEYS:
                raise ValueError(f"control_weights: unknown control {k!r}; known {list(CONTROL_KEYS)}")
            if not 0.0 <= float(w) <= 1.0:
                raise ValueError(f"control_weights.{k}: {w} is outside [0, 1]")
            self.control_weights[k] = float(w)
        try:
            self.options = CosmosOptions.model_validate(dict(options or {}))
        except ValidationError as e:
            errs = "; ".join(f"{'.'.join(map(str, x['loc'])) or '<root>'}: {x['msg']}" for x in e.errors())
            raise ValueError(f"Cosmos options: {errs} (known: {sorted(CosmosOptions.model_fields)})") from None
        self.token_env = token_env
        if model is not None and model not in MODEL_CONTROLS and model != "multiview":
            raise ValueError(f"model: unknown Cosmos-Transfer2.5 model {model!r}; known {list(MODEL_CONTROLS)}")
        self.model, self.model_explicit = model, bool(model_explicit)
        self.made_controls = None if made_controls is None else list(made_controls)
        self._announced: str | None = None
        self._client_obj = None
        self._lock = threading.Lock()
        self._download_dir = tempfile.mkdtemp(prefix="sdg-cosmos-dl-")
        self._rng = random.Random()
        self.retries_used = 0  # retries this client has made so far (all requests), for the run summary

    def __getstate__(self) -> dict:
        """Picklable (Ray ships clients to actors): the connection, lock and download folder are per process."""
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("_client_obj", "_lock", "_download_dir", "_announced")}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._announced = None
        self._client_obj = None
        self._lock = threading.Lock()
        self._download_dir = tempfile.mkdtemp(prefix="sdg-cosmos-dl-")

    def __repr__(self) -> str:
        return f"CosmosTransferClient(url={redact_url(self.url)!r}, controls={self.controls}, retries={self.retries})"

    @property
    def endpoint(self) -> str:
        return redact_url(self.url)

    def close(self) -> None:
        self._client_obj = None
        shutil.rmtree(self._download_dir, ignore_errors=True)

    def __del__(self):
        try:
            shutil.rmtree(self._download_dir, ignore_errors=True)
        except Exception:
            pass

    # ------------------------------------------------------------------ gradio plumbing
    def _redact(self, text: object) -> str:
        s = redact(text, extra_env=(self.token_env,) if self.token_env else ())
        return s.replace(self.url, self.endpoint) if self.url != self.endpoint else s

    def _client(self):
        with self._lock:
            if self._client_obj is None:
                from gradio_client import Client

                params = inspect.signature(Client.__init__).parameters
                kw: dict[str, Any] = {"verbose": False, "download_files": self._download_dir,
                                      "httpx_kwargs": {"timeout": self.http_timeout}}
                if "analytics_enabled" in params:
                    kw["analytics_enabled"] = False
                # gradio_client falls back to the locally saved HF token ($HF_TOKEN, ~/.cache/huggingface) when
                # given None; False sends none, so a token only goes to servers configured to receive it
                token = os.environ.get(self.token_env, "") if self.token_env else ""
                kw["token" if "token" in params else "hf_token"] = token or False
                self._client_obj = Client(self.url + "/", **kw)
            return self._client_obj

    def _drop_client(self) -> None:
        with self._lock:
            self._client_obj = None

    def _call(self, api_name: str, *args, timeout: float) -> Any:
        """One gradio call; transient failures become :class:`_Transient` and drop the cached client."""
        try:
            client = self._client()
        except Exception as e:  # down, booting (proxy 502) or not yet serving its config: worth retrying
            raise _Transient(f"connecting: {type(e).__name__}: {self._redact(e)[:300]}") from None
        job = None
        try:
            job = client.submit(*args, api_name=api_name)
            return job.result(timeout=timeout)
        except TimeoutError:
            if job is not None:
                job.cancel()
            self._drop_client()
            raise _Transient(f"{api_name}: no answer within {timeout:g} s") from None
        except Exception as e:
            if _classify(e):
                self._drop_client()
                raise _Transient(f"{api_name}: {type(e).__name__}: {self._redact(e)[:300]}") from None
            raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint} {api_name}: {type(e).__name__}: "
                                     f"{self._redact(e)[:500]}") from None

    def _upload(self, path: str) -> str:
        from gradio_client import handle_file

        out = self._call("/upload_file", handle_file(path), timeout=self.http_timeout)
        try:
            d = json.loads(out) if isinstance(out, str) else out
        except ValueError:
            d = None
        if isinstance(d, dict) and d.get("path"):
            return str(d["path"])
        err = d.get("error") if isinstance(d, dict) else None
        raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint} /upload_file refused {Path(path).name}: "
                                 f"{self._redact(err or out)[:300]}; check the server's uploads folder and "
                                 "max_file_size")

    def _fetch(self, server_path: str, local: str | None, dest_dir: str) -> str:
        """A local copy of the output video: gradio_client's download, else GET /gradio_api/file=<path>."""
        if local:
            return local
        dest = os.path.join(dest_dir, "cosmos_out.mp4")
        for route in ("/gradio_api/file=", "/file="):
            try:
                r = httpx.get(self.url + route + quote(server_path, safe="/"), timeout=self.http_timeout,
                              follow_redirects=True)
            except httpx.TransportError as e:
                raise _Transient(f"GET {route}<output>: {type(e).__name__}: {self._redact(e)[:200]}") from None
            if r.status_code == 200 and r.content:
                Path(dest).write_bytes(r.content)
                return dest
            if r.status_code >= 500 or r.status_code == 429:
                raise _Transient(f"GET {route}<output>: HTTP {r.status_code}")
            if r.status_code != 404:
                break
        raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint}: cannot download the output {server_path!r} "
                                 f"(HTTP {r.status_code}); the server must list its output dir in allowed_paths")

    # ------------------------------------------------------------------ request
    def announced_model(self) -> str | None:
        """The model the server announces in its UI description (read once per connection); None when it
        announces none or cannot be reached now (asked again next time)."""
        if self._announced is None:
            try:
                self._announced = model_from_gradio_config(getattr(self._client(), "config", None))
            except Exception:  # noqa: BLE001 - unreachable now: the request path reports it properly
                return None
        return self._announced

    def _model_problem(self, announced: str | None) -> tuple[str, str] | None:
        return model_problem(announced, self.model, self.model_explicit, self.controls, self.made_controls)

    def _control_names(self, req: AugmentRequest, announced: str | None = None, with_model: bool = True) -> list[str]:
        """The controls to send for ``req``; ``with_model=False`` checks only the request (no model known yet)."""
        have = set(req.control_videos) | set(req.controls)
        model = (announced or self.model) if with_model else None
        if model:
            problem = self._model_problem(announced)
            if problem:
                raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint}: {problem[0]}; {problem[1]}")
        if self.controls is None:
            keys = MODEL_CONTROLS.get(model, CONTROL_KEYS) if model else CONTROL_KEYS
            names = [c for c in keys if c in have]
            if not names:
                raise ValueError(f"clip {req.clip_id}: the request carries none of the controls "
                                 f"{list(keys)} the server's model ({model or 'any'}) takes (it has {sorted(have)}); "
                                 "make them in the ground-truth stage (augmentation.controls)")
            return names
        missing = [c for c in self.controls if c not in have]
        if missing:
            raise ValueError(f"clip {req.clip_id}: controls {missing} are configured but missing from the request "
                             f"(it has {sorted(have)}); make them in the ground-truth stage or drop them from "
                             "augmentation.controls")
        return list(self.controls)

    def build_request(self, req: AugmentRequest, video_path: str, control_paths: Mapping[str, str]) -> dict:
        """The ``/generate_video`` request for ``req`` with server-side paths of the uploaded videos."""
        if not req.prompt or not req.prompt.strip():
            raise ValueError(f"clip {req.clip_id}: empty prompt; Cosmos-Transfer2.5 requires one")
        o = self.options
        body: dict[str, Any] = {
            "name": _safe_name(req.clip_id, req.look.variant),
            "prompt": req.prompt,
            "seed": int(req.look.seed),
            "guidance": o.guidance,
            "num_steps": o.num_steps,
            "resolution": o.resolution,
            "num_conditional_frames": o.num_conditional_frames,
            "num_video_frames_per_chunk": o.num_video_frames_per_chunk,
            "max_frames": int(req.rgb.shape[0]),
            "keep_input_resolution": True,
            "video_path": video_path,
        }
        negative = req.negative_prompt or o.negative_prompt
        if negative:
            body["negative_prompt"] = negative
        if o.sigma_max is not None:
            body["sigma_max"] = o.sigma_max
        for name in CONTROL_KEYS:
            if name in control_paths:
                body[name] = {"control_path": control_paths[name], "control_weight": self.control_weights[name]}
        return body

    def _validate(self, req: AugmentRequest) -> None:
        rgb = req.rgb
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 4 or rgb.shape[3] != 3 or rgb.dtype != np.uint8 \
                or rgb.shape[0] == 0:
            raise ValueError(f"clip {req.clip_id}: rgb must be a non-empty (T,H,W,3) uint8 array, got "
                             f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', None)}")
        if not req.fps > 0:
            raise ValueError(f"clip {req.clip_id}: fps must be > 0, got {req.fps}")
        for name, frames in req.controls.items():
            if name in req.control_videos:
                continue
            if np.asarray(frames).shape[:3] != rgb.shape[:3]:
                raise ValueError(f"clip {req.clip_id}: control {name!r} has shape {np.asarray(frames).shape}, the "
                                 f"rgb clip {rgb.shape}; controls must have the clip's frames and size")

    def _attempt(self, req: AugmentRequest, tmp: str) -> np.ndarray:
        names = self._control_names(req, self.announced_model())
        video_local = os.path.join(tmp, "input.mp4")
        write_mp4(video_local, req.rgb, req.fps, profile="rgb")
        local_controls = {}
        for name in names:
            p = os.path.join(tmp, f"{name}.mp4")
            if name in req.control_videos:
                Path(p).write_bytes(req.control_videos[name])
            else:
                write_mp4(p, req.controls[name], req.fps, profile="control")
            local_controls[name] = p
        video_path = self._upload(video_local)
        control_paths = {n: self._upload(p) for n, p in local_controls.items()}
        body = self.build_request(req, video_path, control_paths)
        log.info("cosmos %s: clip %s variant %d, %d frames, controls %s", self.endpoint, req.clip_id,
                 req.look.variant, req.rgb.shape[0], names)
        out = self._call("/generate_video", json.dumps(body), timeout=self.timeout)
        video_out, status_text = (out if isinstance(out, (list, tuple)) and len(out) == 2 else (None, out))
        status, videos = parse_status(status_text if isinstance(status_text, str) else json.dumps(status_text))
        local = _local_video_path(video_out)
        if not videos and not local:
            if _TRANSIENT_STATUS.search(status.strip()):
                raise _Transient(f"/generate_video: server status {self._redact(status)[:300]!r}")
            raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint} /generate_video failed for clip "
                                     f"{req.clip_id}: {self._redact(status)[:800]}")
        path = self._fetch(videos[0] if videos else "", local, tmp)
        try:
            return read_mp4(path)
        except VideoError as e:
            raise CosmosRequestError(f"Cosmos-Transfer at {self.endpoint}: the output video of clip {req.clip_id} "
                                     f"is unreadable ({e}); check the server's log and disk") from None
        finally:
            parent = Path(path).parent
            if parent != Path(self._download_dir) and Path(self._download_dir) in parent.parents:
                shutil.rmtree(parent, ignore_errors=True)  # gradio_client's per-file download folder

    def augment(self, req: AugmentRequest) -> np.ndarray:
        """Augment one clip variant: upload rgb + controls, generate, download, decode, check. Returns
        (T, H, W, 3) uint8 RGB with req.rgb's T, H and W."""
        self._validate(req)
        self._control_names(req, with_model=False)  # request-side problems fail before the server is contacted
        t, h, w = req.rgb.shape[:3]

        def once() -> np.ndarray:
            with tempfile.TemporaryDirectory(prefix="sdg-cosmos-") as tmp:
                return self._attempt(req, tmp)

        def wait(seconds: float) -> None:  # retry() sleeps once per retry: count them
            self.retries_used += 1
            time.sleep(seconds)

        try:
            frames = retry(once, retries=self.retries, is_transient=_classify, base=self.backoff,
                           cap=self.max_backoff, what=f"Cosmos-Transfer {self.endpoint} clip {req.clip_id}",
                           logger=log, rng=self._rng, sleep=wait)
        except _Transient as e:
            raise CosmosUnavailable(
                f"Cosmos-Transfer at {self.endpoint}: {e} (clip {req.clip_id}; gave up after {self.retries + 1} "
                "attempts). Check that the server is up and its workers healthy (its log file), that "
                "endpoints.cosmos_url / $SDG_COSMOS_URL is right, then re-run: committed clips are skipped.") from None
        eh, ew = even_size(h, w)
        got = tuple(int(x) for x in frames.shape[:3])
        if got not in ((t, h, w), (t, eh, ew)):
            raise CosmosOutputMismatch(req.clip_id, (t, h, w), got,
                                       f" (request had max_frames={t}, keep_input_resolution=true)")
        return np.ascontiguousarray(frames[:, :h, :w])

    # ------------------------------------------------------------------ preflight
    def check(self) -> Verdict:
        """Preflight: the server answers, its API lists ``/upload_file`` and ``/generate_video``, and its model
        (announced, else ``model``) takes the configured controls."""
        service = f"Cosmos-Transfer {self.endpoint}"
        try:
            client = self._client()
            api = client.view_api(print_info=False, return_format="dict")
        except Exception as e:
            self._drop_client()
            return Verdict(service, False, f"cannot reach the Gradio API ({type(e).__name__}: {self._redact(e)[:200]})",
                           "start the Cosmos-Transfer2.5 server (model loading takes minutes) or fix "
                           "endpoints.cosmos_url / $SDG_COSMOS_URL")
        named = set((api or {}).get("named_endpoints", {}))
        missing = [n for n in ("/upload_file", "/generate_video") if n not in named]
        if missing:
            return Verdict(service, False, f"API lacks {missing} (has {sorted(named)})",
                           "point endpoints.cosmos_url at a cosmos-gradio (Cosmos-Transfer2.5) server")
        announced = model_from_gradio_config(getattr(client, "config", None))
        self._announced = announced
        problem = self._model_problem(announced)
        if problem:
            return Verdict(service, False, *problem)
        detail = f"API lists {sorted(named)}"
        model = announced or self.model
        if model:
            source = "announced by the server" if announced else \
                "endpoints.cosmos_model; the server does not announce its model"
            sends = self.controls or [c for c in MODEL_CONTROLS[model]
                                      if self.made_controls is None or c in self.made_controls]
            detail += f"; runs model {model!r} ({source}); sends {sends}"
        return Verdict(service, True, detail)
