"""Shared helpers of the network clients: bounded exponential backoff and secret redaction.

Secrets (API keys, tokens) come only from the environment. Every text that may reach a log, an exception or a report
goes through :func:`redact`, which removes the current values of the secret environment variables, bearer tokens and
credentials embedded in URLs.
"""
from __future__ import annotations

import logging
import os
import random
import re
import time
from typing import Callable, Iterable, TypeVar
from urllib.parse import urlsplit, urlunsplit

__all__ = ["SECRET_ENV_VARS", "redact", "redact_url", "backoff_delays", "retry"]

T = TypeVar("T")

#: Environment variables whose values are never shown.
SECRET_ENV_VARS: tuple[str, ...] = ("NGC_API_KEY", "HF_TOKEN", "NVIDIA_API_KEY", "OPENAI_API_KEY")
_MASK = "***"
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def _secret_values(extra_env: Iterable[str] = ()) -> list[str]:
    vals = {os.environ.get(n, "") for n in (*SECRET_ENV_VARS, *extra_env)}
    # very short values would mask ordinary words; real keys are long
    return sorted((v for v in vals if len(v) >= 6), key=len, reverse=True)


def redact(text: object, extra_env: Iterable[str] = ()) -> str:
    """``str(text)`` with secret env values (SECRET_ENV_VARS + ``extra_env``), ``Bearer <token>`` and URL
    user:password parts replaced by ``***``."""
    s = str(text)
    for v in _secret_values(extra_env):
        s = s.replace(v, _MASK)
    s = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", s)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{_MASK}@", s)


def redact_url(url: str) -> str:
    """A URL without user:password and without a query string (which may carry tokens)."""
    try:
        p = urlsplit(url)
    except ValueError:
        return redact(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    if p.username or p.password:
        host = f"{_MASK}@{host}"
    return redact(urlunsplit((p.scheme, host, p.path, "", "")))


def backoff_delays(retries: int, base: float, cap: float, rng: random.Random | None = None) -> list[float]:
    """The waits (seconds) before each of ``retries`` retries: ``min(cap, base * 2**i)``, each scaled by a jitter
    factor in [0.5, 1.0] when ``rng`` is given (spreads replicas that failed together)."""
    if retries < 0 or base < 0 or cap < 0:
        raise ValueError(f"retries, base and cap must be >= 0, got {retries}, {base}, {cap}")
    out = []
    for i in range(retries):
        d = min(cap, base * (2.0**i))
        if rng is not None:
            d *= rng.uniform(0.5, 1.0)
        out.append(d)
    return out


def retry(
    fn: Callable[[], T],
    *,
    retries: int,
    is_transient: Callable[[BaseException], bool],
    base: float = 1.0,
    cap: float = 30.0,
    what: str = "request",
    logger: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` and return its result; on an exception for which ``is_transient`` is true, wait (bounded
    exponential backoff) and call again, at most ``retries`` more times. Non-transient exceptions and the last
    transient one propagate unchanged (callers wrap them with what to do). Retries are logged (redacted) at WARNING.
    """
    delays = backoff_delays(retries, base, cap, rng if rng is not None else random.Random())
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:
            if attempt >= len(delays) or not is_transient(e):
                raise
            d = delays[attempt]
            attempt += 1
            if logger is not None:
                logger.warning("%s failed (%s: %s); retry %d/%d in %.2f s", what, type(e).__name__,
                               redact(e)[:300], attempt, len(delays), d)
            sleep(d)
