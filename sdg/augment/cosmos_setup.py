"""The Cosmos-Transfer client of a job config: the server urls (``endpoints.cosmos_url`` or ``$SDG_COSMOS_URL``), the
client settings the config implies, and the preflight of every server (`sdg check`)."""
from __future__ import annotations

import logging
import os
from typing import Any

from sdg.augment.cosmos import CosmosTransferClient
from sdg.augment.http import redact_url
from sdg.verdict import Verdict

log = logging.getLogger("sdg.augment.cosmos")


def cosmos_urls(cfg) -> list[str]:
    """The Cosmos-Transfer server urls of a job config: ``endpoints.cosmos_url`` (comma-separated for several
    servers), or ``$SDG_COSMOS_URL`` when the config has none."""
    raw = cfg.endpoints.cosmos_url or os.environ.get("SDG_COSMOS_URL") or ""
    return [u.strip() for u in raw.split(",") if u.strip()]


def make_augmenter_client(cfg) -> CosmosTransferClient:
    """The Cosmos-Transfer client of a :class:`~sdg.config.JobConfig` (``endpoints.cosmos_url`` or
    ``$SDG_COSMOS_URL``; controls, weights and request options from ``augmentation``). With several
    comma-separated urls this client uses the first; the Serve app gives each replica its own."""
    from sdg.config import ConfigError

    src = cfg.source or "<config>"
    urls = cosmos_urls(cfg)
    if not urls:
        raise ConfigError(f"{src}: backends.augmenter is 'cosmos' but endpoints.cosmos_url (or $SDG_COSMOS_URL) is "
                          "not set; set it to the Cosmos-Transfer2.5 Gradio server, or use backends.augmenter: builtin")
    if len(urls) > 1:
        log.warning("endpoints.cosmos_url lists %d servers; this client uses the first (%s)", len(urls),
                    redact_url(urls[0]))
    ep = cfg.endpoints
    try:
        return CosmosTransferClient(urls[0], **client_settings(cfg), timeout=ep.cosmos_timeout,
                                    retries=ep.cosmos_retries, backoff=ep.cosmos_backoff)
    except ValueError as e:
        raise ConfigError(f"{src}: augmentation: {e}") from None


def client_settings(cfg) -> dict[str, Any]:
    """The client arguments a job config sets: controls (None when ``augmentation.controls`` is left at its
    default: the server's model decides), weights, request options and the expected model."""
    aug, ep = cfg.augmentation, cfg.endpoints
    explicit = "controls" in aug.model_fields_set
    return {"controls": list(aug.controls) if explicit else None,
            "made_controls": None if explicit else list(aug.controls),
            "control_weights": dict(aug.control_weights), "options": dict(aug.cosmos),
            "model": ep.cosmos_model, "model_explicit": "cosmos_model" in ep.model_fields_set}


def _is_loopback(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cosmos(cfg) -> list[Verdict]:
    """Preflight of every Cosmos-Transfer server of a job config (one verdict per url)."""
    urls = cosmos_urls(cfg)
    if not urls:
        return [Verdict("Cosmos-Transfer", False, "no server url",
                        "set endpoints.cosmos_url or $SDG_COSMOS_URL, or use backends.augmenter: builtin")]
    node_local = cfg.resources.serve.augment.resources
    out = []
    for u in urls:
        if node_local and _is_loopback(u):
            # a server on each node that offers the replicas' custom resource: unreachable from the driver's node,
            # reached by each replica's health check where it runs (serve/apps.py)
            out.append(Verdict(f"Cosmos-Transfer {redact_url(u)}", True,
                               f"node-local on every node with {sorted(node_local)}: each augment replica checks "
                               "its own server (Serve health check)"))
            continue
        try:
            c = CosmosTransferClient(u, retries=0, http_timeout=20.0, **client_settings(cfg))
        except ValueError as e:
            out.append(Verdict(f"Cosmos-Transfer {redact_url(u)}", False, str(e),
                               "fix endpoints.cosmos_url / augmentation"))
            continue
        try:
            out.append(c.check())
        finally:
            c.close()
    return out
