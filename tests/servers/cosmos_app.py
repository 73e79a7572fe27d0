"""A real Gradio app with the endpoints and signatures of the Cosmos-Transfer2.5 server (``cosmos-gradio``).

Endpoints: ``/upload_file(file) -> JSON text``, ``/upload_file_list(files) -> JSON text``,
``/generate_video(request_text) -> (video, status text)`` and the API-only ``/generate(request_dict) -> dict``.
The request is validated by a strict pydantic model with the server's field names (extra fields rejected), the
uploaded input video is decoded with cv2 directly (not with sdg's video module) and answered with a colour-graded
copy (:func:`grade`) at the input's size and frame count (``max_frames`` applied).

The server runs one model, as the real one does (``MODEL_NAME``; ``CosmosTestServer(root, model=...)``, default
``multicontrol``): it announces it the way ``cosmos_transfer2.gradio.gradio_bootstrapper`` does (the page title and
header ``Cosmos-Transfer2.5 <…> Transfer``, and a default request in the "Request (JSON)" box carrying that model's
control blocks; ``announce=False`` shows neither), and it refuses requests carrying control blocks its model does not
take (the real worker is built with its model's hint keys only).

Modes (``server.mode``): ``normal``; ``wrong_count`` (drops the last frame); ``transient`` (the next
``server.failures`` calls of /generate_video fail: odd ones with the server's "workers restarted" empty result,
even ones with HTTP 502 at the HTTP layer, then it works); ``bad_json`` (answers "Error parsing request JSON");
``legacy`` (the older ``Result json: {...}`` text and no file output; the client must GET /gradio_api/file=).
Faults that combine with any mode (``reset(faults=..., fault_delay=..., fail_names=...)``): ``faults`` is a cycle of
outcomes for successive /generate_video calls at the HTTP layer ("ok", "503": the queue join answers HTTP 503,
"timeout": the join is held ``fault_delay`` seconds before it goes through); ``fail_names``: requests whose
``name`` starts with one of these always get the "workers restarted" empty result. ``server.injected`` counts the
faults served. Everything the server saw is recorded in ``server.requests`` / ``server.controls_seen`` /
``server.auth``.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Literal

import cv2
import gradio as gr
import numpy as np
from conftest import free_port  # noqa: F401 - the tests import it from here too
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: The UI header of each model (the real server's page title) and the control blocks its worker takes.
HEADERS = {"edge": "Cosmos-Transfer2.5 Edge Transfer", "edge/distilled": "Cosmos-Transfer2.5 Edge Distilled Transfer",
           "depth": "Cosmos-Transfer2.5 Depth Transfer", "seg": "Cosmos-Transfer2.5 Segmentation Transfer",
           "vis": "Cosmos-Transfer2.5 Blur Transfer", "multicontrol": "Cosmos-Transfer2.5 Multi-Control Transfer"}
HINT_KEYS = {"edge": ("edge",), "edge/distilled": ("edge",), "depth": ("depth",), "seg": ("seg",), "vis": ("vis",),
             "multicontrol": ("edge", "vis", "depth", "seg")}


def default_request(model: str) -> dict:
    """A sample request for ``model`` (our own sample paths), shown in the UI's request box."""
    req = {"name": f"sample_{model.replace('/', '_')}", "prompt": "A city street at noon.",
           "video_path": "assets/sample/input.mp4"}
    for key in HINT_KEYS[model]:
        req[key] = {"control_path": f"assets/sample/{key}.mp4", "control_weight": 1.0}
    if model == "edge/distilled":
        req["num_steps"] = 4
    return req


def grade(rgb: np.ndarray) -> np.ndarray:
    """The server's 'augmentation': channels reversed (R<-B, B<-R), scaled by 0.8, plus a blue-ish offset.
    (T,H,W,3) uint8 RGB in and out."""
    out = rgb[..., ::-1].astype(np.float32) * 0.8 + np.array([0.0, 10.0, 40.0], np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def read_video(path: str) -> np.ndarray:
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f[:, :, ::-1])
    cap.release()
    if not frames:
        raise ValueError(f"{path}: no frames")
    return np.stack(frames)


def write_video(path: str, rgb: np.ndarray, fps: float = 10.0) -> None:
    t, h, w = rgb.shape[:3]
    wr = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in rgb:
        wr.write(np.ascontiguousarray(f[:, :, ::-1]))
    wr.release()


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    control_path: str | None = None
    control_weight: float = Field(1.0, ge=0.0, le=1.0)
    mask_path: str | None = None
    mask_prompt: str | None = None


class _EdgeControl(_Control):
    preset_edge_threshold: Literal["very_low", "low", "medium", "high", "very_high"] = "medium"


class _VisControl(_Control):
    preset_blur_strength: Literal["very_low", "low", "medium", "high", "very_high"] = "medium"


class _SegControl(_Control):
    control_prompt: str | None = None


class TransferRequest(BaseModel):
    """The fields of cosmos_transfer2.config.InferenceArguments that a client may send (strict types)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    prompt: str
    negative_prompt: str = "(server default negative prompt)"
    seed: int = 2025
    guidance: int = Field(3, ge=0, le=7)
    video_path: str
    max_frames: int | None = Field(None, gt=0)
    context_frame_index: int | None = None
    image_context_path: str | None = None
    num_conditional_frames: Literal[0, 1, 2] = 1
    resolution: str = "720"
    sigma_max: str | None = None
    num_video_frames_per_chunk: int = Field(93, gt=0)
    num_steps: int = Field(35, gt=0)
    show_control_condition: bool = False
    show_input: bool = False
    keep_input_resolution: bool = True
    edge: _EdgeControl | None = None
    depth: _Control | None = None
    vis: _VisControl | None = None
    seg: _SegControl | None = None

    @model_validator(mode="after")
    def _checks(self):
        if not any((self.edge, self.depth, self.vis, self.seg)):
            raise ValueError("No controls provided, please provide at least one control key (edge, blur, depth, seg)")
        for p in [self.video_path] + [c.control_path for c in (self.edge, self.depth, self.vis, self.seg)
                                      if c is not None and c.control_path]:
            if not os.path.isfile(p):
                raise ValueError(f"Path does not point to a file: {p}")
        return self


class _FailHttp:
    """ASGI middleware: answers 502 to queue joins while the server has HTTP failures pending, and serves the
    ``faults`` cycle (503 / held joins) to the queue joins of /generate_video."""

    def __init__(self, app, server: "CosmosTestServer"):
        self.app, self.server = app, server

    @staticmethod
    async def _error(send, status: int, text: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": text})

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/queue/join"):
            if self.server._take_http_failure():
                await self._error(send, 502, b"bad gateway (test)")
                return
            if self.server.faults:
                messages, body, more = [], b"", True
                while more:
                    m = await receive()
                    messages.append(m)
                    body += m.get("body", b"")
                    more = m.get("more_body", False)
                fault = self.server._fault_for(body)
                if fault == "503":
                    await self._error(send, 503, b"service unavailable (test)")
                    return
                if fault == "timeout":
                    import asyncio

                    await asyncio.sleep(self.server.fault_delay)

                async def replay():
                    return messages.pop(0) if messages else await receive()

                await self.app(scope, replay, send)
                return
        await self.app(scope, receive, send)


class CosmosTestServer:
    def __init__(self, root: Path, model: str = "multicontrol", announce: bool = True):
        if model not in HINT_KEYS:
            raise ValueError(f"unknown model {model!r}; known {sorted(HINT_KEYS)}")
        self.model, self.announce = model, announce
        self.root = Path(root)
        self.uploads = self.root / "uploads"
        self.outputs = self.root / "outputs"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.outputs.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.reset()
        self.demo = self._build()
        self.url: str | None = None

    def reset(self, mode: str = "normal", failures: int = 0, faults: tuple[str, ...] = (), fault_delay: float = 0.0,
              fail_names: tuple[str, ...] = ()) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.mode = mode
            self.failures = failures
            self.faults, self.fault_delay, self.fail_names = tuple(faults), float(fault_delay), tuple(fail_names)
            self.generate_joins = 0
            self.injected: dict[str, int] = {"503": 0, "timeout": 0, "restarted": 0}
            self.join_times: list[tuple[float, str]] = []  # (time, outcome) of each /generate_video queue join
            self._http_pending = 0
            self.http_failed = 0
            self.generate_calls = 0
            self.uploaded: list[str] = []
            self.requests: list[dict] = []
            self.controls_seen: list[dict[str, tuple[tuple[int, ...], tuple[float, ...]]]] = []
            self.auth: list[str | None] = []

    # ----------------------------------------------------------------- handlers
    def _take_http_failure(self) -> bool:
        with self.lock:
            if self._http_pending > 0:
                self._http_pending -= 1
                self.http_failed += 1
                return True
            return False

    def _fault_for(self, body: bytes) -> str | None:
        """The outcome of the faults cycle for a queue join (None unless it joins /generate_video)."""
        import time

        try:
            fn_index = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return None
        if fn_index not in {i for i, f in self.demo.fns.items() if f.api_name == "generate_video"}:
            return None
        with self.lock:
            outcome = self.faults[self.generate_joins % len(self.faults)]
            self.generate_joins += 1
            if outcome != "ok":
                self.injected[outcome] += 1
            self.join_times.append((time.monotonic(), outcome))
        return outcome if outcome != "ok" else None

    def _upload(self, file) -> str:
        try:
            src = str(file)
            dest_dir = self.uploads / f"upload_{len(self.uploaded):04d}"
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / os.path.basename(src)
            shutil.copy2(src, dest)
            self.uploaded.append(str(dest))
            return json.dumps({"path": str(dest)})
        except Exception as e:  # the real server answers errors as JSON too
            return json.dumps({"error": f"Upload error: {e}"})

    def _upload_list(self, files) -> str:
        out = [json.loads(self._upload(f)) for f in files or [] if f is not None]
        return json.dumps({"files": out})

    def _status(self, status: str, videos: list[str] | None = None) -> str:
        return json.dumps({"rank": 0, "status": status, "request_id": self.generate_calls,
                           "result": {"videos": videos} if videos else {}}, indent=4)

    def _infer(self, req: dict) -> tuple[str, list[str]]:
        """Validate and run one request; (status, videos)."""
        try:
            r = TransferRequest.model_validate(req)
        except ValidationError as e:
            return str(e), []
        carried = [k for k in ("edge", "vis", "depth", "seg") if getattr(r, k) is not None]
        unsupported = [k for k in carried if k not in HINT_KEYS[self.model]]
        if unsupported:
            return (f"Error: the loaded model {self.model!r} was built with hint keys {list(HINT_KEYS[self.model])}; "
                    f"the request carries {unsupported}"), []
        rgb = read_video(r.video_path)
        if r.max_frames is not None:
            if r.max_frames > len(rgb):
                return f"max_frames {r.max_frames} exceeds the {len(rgb)} frames of the input video", []
            rgb = rgb[: r.max_frames]
        seen = {}
        for key in ("edge", "depth", "vis", "seg"):
            c = getattr(r, key)
            if c is not None and c.control_path:
                v = read_video(c.control_path)
                seen[key] = (tuple(v.shape), tuple(float(x) for x in v[0].reshape(-1, 3).mean(0)))
        out = grade(rgb)
        if self.mode == "wrong_count":
            out = out[:-1]
        path = str(self.outputs / f"{r.name}_{self.generate_calls:03d}.mp4")
        write_video(path, out)
        with self.lock:
            self.requests.append(req)
            self.controls_seen.append(seen)
        return "success", [path]

    def _generate_video(self, request_text: str, request: gr.Request):
        with self.lock:
            self.generate_calls += 1
            h = request.headers if request is not None else {}
            # gradio_client sends its token as x-hf-authorization
            self.auth.append(h.get("x-hf-authorization") or h.get("authorization"))
            mode = self.mode
            if mode == "transient" and self.failures > 0:
                # the server's own answer after a worker timeout: empty result, workers restarted; the next
                # failure (if any) is an HTTP 502 on the client's next queue join
                self.failures -= 1
                if self.failures > 0:
                    self.failures -= 1
                    self._http_pending += 1
                return None, self._status("Worker not repsonsive. Restarted all workers.")
        if self.fail_names:
            try:
                name = json.loads(request_text).get("name", "")
            except (ValueError, AttributeError):
                name = ""
            if name.startswith(self.fail_names):
                with self.lock:
                    self.injected["restarted"] += 1
                return None, self._status("Worker not repsonsive. Restarted all workers.")
        if mode == "bad_json":
            return None, "Error parsing request JSON: Expecting value: line 1 column 1 (char 0)\n" \
                         "Please ensure your request is valid JSON."
        try:
            req = json.loads(request_text)
        except json.JSONDecodeError as e:
            return None, f"Error parsing request JSON: {e}\nPlease ensure your request is valid JSON."
        status, videos = self._infer(req)
        if mode == "legacy":
            return None, f"Video generated.\nResult json: {json.dumps({'videos': videos})}" if videos else status
        return (videos[0] if videos else None), self._status(status, videos)

    def _generate(self, request_dict: dict) -> dict:
        status, videos = self._infer(request_dict)
        return json.loads(self._status(status, videos))

    # ----------------------------------------------------------------- app
    def _build(self) -> gr.Blocks:
        title = HEADERS[self.model] if self.announce else "Gradio"
        request_value = json.dumps(default_request(self.model), indent=2) if self.announce else "{}"
        with gr.Blocks(title=title, analytics_enabled=False) as demo:
            if self.announce:
                gr.Markdown(f"# {title}")
            with gr.Row(visible=False):
                up_in = gr.File(visible=False)
                up_out = gr.Textbox(visible=False)
                up_list_in = gr.File(visible=False, file_count="multiple")
                up_list_out = gr.Textbox(visible=False)
            request_input = gr.Textbox(label="Request (JSON)", value=request_value, lines=20, interactive=True)
            output_video = gr.Video(label="Generated Video")
            status_text = gr.Textbox(label="Status", interactive=False)
            button = gr.Button("Generate Video")
            up_in.upload(fn=self._upload, inputs=[up_in], outputs=[up_out], api_name="upload_file")
            up_list_in.upload(fn=self._upload_list, inputs=[up_list_in], outputs=[up_list_out],
                              api_name="upload_file_list")
            button.click(fn=self._generate_video, inputs=[request_input], outputs=[output_video, status_text],
                         api_name="generate_video")
            gr.api(fn=self._generate, api_name="generate")
        return demo

    def start(self) -> str:
        from starlette.middleware import Middleware

        port = free_port()
        self.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                         allowed_paths=[str(self.root)],
                         app_kwargs={"middleware": [Middleware(_FailHttp, server=self)]})
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def close(self) -> None:
        self.demo.close()
