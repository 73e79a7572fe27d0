"""Client of an OpenAI-compatible NVIDIA NIM (Cosmos-Reason VLM, Nemotron LLM) over httpx.

Endpoints: ``GET {url}/v1/health/ready``, ``GET {url}/v1/models``, ``POST {url}/v1/chat/completions``. ``url`` is the
server root (a trailing ``/v1`` is accepted and dropped). The API key is read from the environment variable named by
``api_key_env`` at each request and sent only as ``Authorization: Bearer …``; it never appears in logs, exception
texts or reprs. Connection errors, timeouts, 429 and 5xx answers are retried with bounded exponential backoff; other
4xx answers are not (they will not succeed by repeating).

A NIM serves one model. When the configured model id is not among ``GET /v1/models`` but the server lists exactly
one, :meth:`NimClient.resolve_model` switches to that one and says so in one line (a renamed or re-tagged NIM still
works); with several served models the configured id must be one of them. :func:`reasoning_off` gives the system
directive that turns a model's reasoning trace off where the model has one (Nemotron: ``/no_think``).
"""
from __future__ import annotations

import logging
import os
import random
import re
from typing import Any

import httpx

from sdg.augment.http import redact, redact_url, retry
from sdg.verdict import Verdict

__all__ = ["NimError", "NimClient", "check_nims", "reasoning_off"]

log = logging.getLogger(__name__)


class NimError(Exception):
    """A NIM request that failed; the message names the endpoint, the HTTP status if any, and what to do."""

    def __init__(self, message: str, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


def _is_transient(e: BaseException) -> bool:
    return isinstance(e, NimError) and e.transient


#: (model id pattern, system directive that turns its reasoning trace off), first match wins. Nemotron Nano v2 and
#: the Nemotron 1.5 models take ``/no_think``; the Llama-Nemotron v1 family takes ``detailed thinking off``.
#: Cosmos-Reason1 has no switch: its trace is asked for in ``<think>`` tags and stripped from the answer.
_REASONING_OFF: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"nemotron-nano-\d+b-v2|nemotron-nano-v2|nemotron-[a-z]+-\d+b-v1\.5|nemotron-3"), "/no_think"),
    (re.compile(r"llama-3\.[13]-nemotron-[a-z]+-\d+b-v1"), "detailed thinking off"),
)


def reasoning_off(model: str) -> str | None:
    """The system directive that disables ``model``'s reasoning trace, or None when it has none."""
    m = model.lower()
    for pattern, directive in _REASONING_OFF:
        if pattern.search(m):
            return directive
    return None


class NimClient:
    """One NIM endpoint and model.

    Args:
        url: server root, e.g. ``http://nim-llm:8000``.
        model: model id sent in chat requests (``GET /v1/models`` lists what the server serves).
        api_key_env: name of the environment variable holding the API key; unset/empty means no auth header.
        timeout: seconds per HTTP request (connect + read).
        retries: extra attempts after a transient failure.
        backoff: first backoff wait in seconds (doubles per retry, capped at ``max_backoff``).
        setting: the config key that names ``model`` (e.g. ``endpoints.llm_model``), quoted in messages.
    """

    def __init__(self, url: str, model: str, api_key_env: str = "NGC_API_KEY", timeout: float = 120.0,
                 retries: int = 3, backoff: float = 1.0, max_backoff: float = 30.0, setting: str | None = None):
        if not url or not url.startswith(("http://", "https://")):
            raise ValueError(f"NIM url must start with http:// or https://, got {redact_url(url or '')!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        base = url.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        self.url = base
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.setting = setting
        self.configured_model = model
        self._resolved = False
        self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)
        self._rng = random.Random()

    def __getstate__(self) -> dict:
        """Picklable (Ray ships clients to actors): the HTTP connection pool is per process."""
        return {k: v for k, v in self.__dict__.items() if k != "_http"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)

    def __repr__(self) -> str:
        return f"NimClient(url={redact_url(self.url)!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "NimClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _headers(self) -> dict[str, str]:
        h = {"Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    def _redact(self, text: object) -> str:
        return redact(text, extra_env=(self.api_key_env,) if self.api_key_env else ())

    def _once(self, method: str, path: str, body: dict | None) -> httpx.Response:
        where = f"{method} {redact_url(self.url)}{path}"
        try:
            r = self._http.request(method, self.url + path, json=body, headers=self._headers())
        except httpx.TimeoutException as e:
            raise NimError(f"{where}: timed out after {self.timeout:g} s ({type(e).__name__})",
                           transient=True) from None
        except httpx.TransportError as e:
            raise NimError(f"{where}: {type(e).__name__}: {self._redact(e)}", transient=True) from None
        if r.status_code >= 400:
            detail = self._redact(r.text.strip().replace("\n", " ")[:300])
            transient = r.status_code >= 500 or r.status_code == 429
            hint = ""
            if r.status_code in (401, 403):
                hint = f"; check that ${self.api_key_env} holds a valid key for this endpoint"
            elif r.status_code == 404:
                hint = "; check the url (the server root, without /v1/...) and the model name"
            elif r.status_code in (400, 422):
                hint = "; the server rejected the request body"
            raise NimError(f"{where}: HTTP {r.status_code}: {detail}{hint}", status=r.status_code,
                           transient=transient)
        return r

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        try:
            r = retry(lambda: self._once(method, path, body), retries=self.retries, is_transient=_is_transient,
                      base=self.backoff, cap=self.max_backoff, what=f"{method} {redact_url(self.url)}{path}",
                      logger=log, rng=self._rng)
        except NimError as e:
            if e.transient:
                raise NimError(f"{e} (gave up after {self.retries + 1} attempts; is the NIM up and reachable? "
                               f"check with `curl {redact_url(self.url)}/v1/health/ready`)",
                               status=e.status, transient=True) from None
            raise
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise NimError(f"{method} {redact_url(self.url)}{path}: answer is not JSON: "
                           f"{self._redact(r.text[:200])!r}") from None

    # ------------------------------------------------------------------ API
    def health(self) -> bool:
        """True when ``GET /v1/health/ready`` answers 2xx (one attempt, no retries)."""
        try:
            self._once("GET", "/v1/health/ready", None)
            return True
        except NimError:
            return False

    def _model_choice(self, served: list[str]) -> tuple[str | None, str]:
        """(model to use or None, note): the configured id if served, else the only served id, else None."""
        want = self.configured_model
        key = self.setting or "endpoints.vlm_model / llm_model"
        if want in served:
            return want, ""
        if len(served) == 1:
            return served[0], (f"model {want!r} not served; using {served[0]!r}, the only model it serves (set "
                               f"{key}: {served[0]} to say so)")
        return None, f"model {want!r} not served (serves {served})"

    def resolve_model(self) -> str:
        """The model id to send, checked once against ``GET /v1/models`` (see the module docstring); logs one
        warning line when it switches to the server's only model. Raises :class:`NimError` when the configured id is
        not served and the server serves several (or none)."""
        if self._resolved:
            return self.model
        served = self.models()
        model, note = self._model_choice(served)
        if model is None:
            key = self.setting or "endpoints.vlm_model / llm_model"
            raise NimError(f"NIM {redact_url(self.url)}: {note}; set {key} to one of them")
        if note:
            log.warning("NIM %s: %s", redact_url(self.url), note)
        self.model, self._resolved = model, True
        return model

    def check(self) -> Verdict:
        """Preflight: the server is ready and serves ``self.model`` (or, serving exactly one model, that one)."""
        service = f"NIM {redact_url(self.url)} ({self.configured_model})"
        try:
            self._once("GET", "/v1/health/ready", None)
            served = self.models()
        except NimError as e:
            return Verdict(service, False, str(e), "start the NIM (it can take minutes to load) or fix the url "
                                                    "(endpoints.vlm_url / llm_url, $SDG_VLM_URL / $SDG_LLM_URL)")
        model, note = self._model_choice(served)
        if model is None:
            fix = f"set {self.setting} to one of them" if self.setting else "fix endpoints.vlm_model / llm_model"
            return Verdict(service, False, note, fix)
        if note:
            return Verdict(service, True, f"ready; {note}")
        return Verdict(service, True, "ready, model served")

    def models(self) -> list[str]:
        """Ids of the models the server serves (``GET /v1/models`` → ``data[].id``)."""
        data = self._request("GET", "/v1/models")
        try:
            return [str(m["id"]) for m in data["data"]]
        except (TypeError, KeyError) as e:
            raise NimError(f"GET {redact_url(self.url)}/v1/models: unexpected answer (missing {e}); "
                           "is this an OpenAI-compatible server?") from None

    def chat_completion(self, messages: list[dict], **params) -> dict:
        """The raw ``/v1/chat/completions`` answer for ``messages`` with extra body ``params`` (temperature,
        max_tokens, seed, ...). ``model`` defaults to ``self.model``."""
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
        body = {"model": self.model, "messages": messages, **params}
        return self._request("POST", "/v1/chat/completions", body)

    def chat(self, messages: list[dict], **params) -> str:
        """The text of the first choice of a chat completion (see :meth:`chat_completion`)."""
        data = self.chat_completion(messages, **params)
        try:
            content = data["choices"][0]["message"]["content"]
        except (TypeError, KeyError, IndexError) as e:
            raise NimError(f"POST {redact_url(self.url)}/v1/chat/completions: answer has no "
                           f"choices[0].message.content ({type(e).__name__}: {e})") from None
        if content is None:
            raise NimError(f"POST {redact_url(self.url)}/v1/chat/completions: empty message content "
                           f"(finish_reason={data['choices'][0].get('finish_reason')!r})")
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content)


def check_nims(cfg) -> list[Verdict]:
    """Preflight of the VLM and LLM NIMs of a :class:`~sdg.config.JobConfig` (``backends.prompts: nim``)."""
    ep = cfg.endpoints
    out = []
    for role, url, env, model in (("VLM", ep.vlm_url, "SDG_VLM_URL", ep.vlm_model),
                                  ("LLM", ep.llm_url, "SDG_LLM_URL", ep.llm_model)):
        setting = f"endpoints.{role.lower()}_model"
        url = url or os.environ.get(env)
        if not url:
            out.append(Verdict(f"NIM {role}", False, f"no url for the {role} NIM",
                               f"set endpoints.{role.lower()}_url or ${env}, or use backends.prompts: template"))
            continue
        client = NimClient(url, model, retries=0, timeout=10.0, setting=setting)
        try:
            out.append(client.check())
        finally:
            client.close()
    return out
