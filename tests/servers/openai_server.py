"""A real OpenAI-compatible HTTP server (stdlib ``http.server`` in a thread) standing in for NVIDIA NIMs.

Routes: ``GET /v1/health/ready``, ``GET /v1/models``, ``POST /v1/chat/completions``. Every request is recorded
(method, path, headers, JSON body). ``fail(n, status)`` makes the next ``n`` requests answer ``status``.

It serves the model ids in ``models``; the workflow's stack runs one NIM per model on its own port, e.g.
``OpenAITestServer(("nvidia/cosmos-reason1-7b",))`` and ``OpenAITestServer(("nvidia/nvidia-nemotron-nano-9b-v2",))``.
A chat naming a model it does not serve gets 404, as a NIM answers.

Chat answers (deterministic, so tests can predict them):
* a message with a ``video_url`` part: the video is base64-decoded and read with cv2; the answer is
  ``<think>…</think><answer>A traffic video of {T} frames at {W}x{H}, mean colour {r},{g},{b}.</answer>``
  (or ``caption_text`` if set, still wrapped in think/answer tags);
* otherwise, ``style = "echo"`` (default): ``<think>thinking</think>`` + ``ECHO[seed={seed}]: `` + the last user text;
* ``style = "nemotron"``, answering as Nemotron Nano v2 does: a reasoning trace in ``<think>…</think>`` (empty when a
  system message says ``/no_think``), then :func:`rewrite` of the last user text. It sometimes just repeats the
  instruction instead: when ``echo_when(body)`` is true (default: an even ``seed``), the answer after the trace is
  ``Sure. `` + the instruction. ``llm_faults`` (a list) injects answers for the next requests first, one per
  request: ``echo``, ``empty`` (the trace only), ``long`` (400 words), ``unclosed`` (a trace never closed), ``tag``
  (a stray ``<|im_end|>``). ``answers`` records ``(seed, kind)`` of every text answer.
"""
from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

VLM_MODEL, LLM_MODEL = "nvidia/cosmos-reason1-7b", "nvidia/nvidia-nemotron-nano-9b-v2"
_FIELD = re.compile(r"^([A-Z][A-Za-z ]{0,30}):\s*(\S.*)$")


def rewrite(text: str) -> str:
    """The stand-in LLM's answer to an instruction whose last lines are ``Key: value`` fields: one field (``Prompt:
    …``) comes back as its value (a polish); several become prose: the first value, then ``The <key> is <value>.``
    per other field. Without fields: the instruction's last paragraph."""
    fields = []
    for line in reversed(text.strip().splitlines()):
        m = _FIELD.match(line.strip())
        if not m:
            break
        fields.append((m.group(1), m.group(2).strip()))
    fields.reverse()
    if not fields:
        return " ".join(text.strip().split("\n\n")[-1].split())
    if len(fields) == 1:
        return fields[0][1]
    first = fields[0][1].rstrip(".") + "."
    return " ".join([first] + [f"The {k.lower()} is {v.rstrip('.')}." for k, v in fields[1:]])


class OpenAITestServer:
    def __init__(self, models: tuple[str, ...] = (VLM_MODEL, LLM_MODEL), style: str = "echo"):
        self.models = list(models)
        self.requests: list[dict] = []
        self.caption_text: str | None = None
        self.ready = True
        self.style = style
        self.echo_when = _even_seed
        self.llm_faults: list[str] = []
        self.answers: list[tuple[int | None, str]] = []
        self._fail_left = 0
        self._fail_status = 503
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: dict | str) -> None:
                data = (json.dumps(body) if isinstance(body, dict) else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                            "body": body})
                    failing = server._fail_left > 0
                    if failing:
                        server._fail_left -= 1
                        status = server._fail_status
                if failing:
                    self._send(status, {"error": {"message": f"injected failure {status}", "code": status}})
                    return
                if method == "GET" and self.path == "/v1/health/ready":
                    if server.ready:
                        self._send(200, {"object": "health.response", "message": "Service is ready."})
                    else:
                        self._send(503, {"message": "not ready"})
                elif method == "GET" and self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                elif method == "POST" and self.path == "/v1/chat/completions":
                    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                        self._send(400, {"error": {"message": "messages: field required"}})
                        return
                    if body.get("model") not in server.models:
                        self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                        return
                    try:
                        text = server.answer(body)
                    except ValueError as e:
                        self._send(400, {"error": {"message": str(e)}})
                        return
                    self._send(200, {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": text}}],
                                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                else:
                    self._send(404, {"error": {"message": f"no route {method} {self.path}"}})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "OpenAITestServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._fail_left, self._fail_status = n, status

    def reset(self, style: str = "echo") -> None:
        with self._lock:
            self.requests.clear()
            self._fail_left = 0
            self.caption_text = None
            self.ready = True
            self.style = style
            self.echo_when = _even_seed
            self.llm_faults = []
            self.answers = []

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    # ----------------------------------------------------------------- answers
    def answer(self, body: dict) -> str:
        videos, texts = [], []
        for m in body["messages"]:
            content = m.get("content")
            if isinstance(content, str):
                if m.get("role") == "user":
                    texts.append(content)
                continue
            for part in content or []:
                if part.get("type") == "video_url":
                    videos.append(part["video_url"]["url"])
                elif part.get("type") == "text":
                    texts.append(part["text"])
        if videos:
            url = videos[0]
            prefix = "data:video/mp4;base64,"
            if not url.startswith(prefix):
                raise ValueError("video_url must be a data:video/mp4;base64 URL")
            clip = _decode(base64.b64decode(url[len(prefix):]))
            t, h, w = clip.shape[:3]
            r, g, b = (int(round(x)) for x in clip.reshape(-1, 3).mean(0))
            caption = self.caption_text or f"A traffic video of {t} frames at {w}x{h}, mean colour {r},{g},{b}."
            return f"<think>\nI look at the frames and count the vehicles.\n</think>\n\n<answer>\n{caption}\n</answer>"
        if self.style != "nemotron":
            return f"<think>thinking</think>ECHO[seed={body.get('seed')}]: {texts[-1] if texts else ''}"
        return self._nemotron(body, texts[-1] if texts else "")

    def _nemotron(self, body: dict, text: str) -> str:
        systems = [m.get("content") for m in body["messages"] if m.get("role") == "system"]
        no_think = any(isinstance(c, str) and "/no_think" in c for c in systems)
        trace = "<think></think>\n\n" if no_think else \
            "<think>\nThe user wants a prompt. I keep the scene and change the conditions.\n</think>\n\n"
        with self._lock:
            kind = self.llm_faults.pop(0) if self.llm_faults else None
        if kind is None:
            kind = "echo" if self.echo_when is not None and self.echo_when(body) else "ok"
        with self._lock:
            self.answers.append((body.get("seed"), kind))
        if kind == "ok":
            return trace + rewrite(text)
        if kind == "echo":
            return trace + "Sure. " + text
        if kind == "empty":
            return trace
        if kind == "long":
            return trace + " ".join(["word"] * 400)
        if kind == "unclosed":
            return "<think>\nLet me think about the weather and the lighting and the road"
        if kind == "tag":
            return trace + rewrite(text) + "<|im_end|>"
        raise ValueError(f"unknown llm fault {kind!r}")


def _even_seed(body: dict) -> bool:
    return (body.get("seed") or 0) % 2 == 0


def _decode(data: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "v.mp4")
        with open(p, "wb") as f:
            f.write(data)
        cap = cv2.VideoCapture(p)
        frames = []
        while True:
            ok, fr = cap.read()
            if not ok:
                break
            frames.append(fr[:, :, ::-1])
        cap.release()
    if not frames:
        raise ValueError("video_url: not a decodable mp4")
    return np.stack(frames)
