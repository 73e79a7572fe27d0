"""Which model a Cosmos-Transfer2.5 Gradio server runs, and which control blocks a request to it may carry.

The server (``python -m cosmos_transfer2.gradio.gradio_bootstrapper``, cosmos-transfer2.5 v1.3.0 in the workflow's
stack) loads **one** model chosen by its ``MODEL_NAME`` environment variable and builds its worker with that model's
hint keys only: ``edge`` (the default), ``edge/distilled``, ``depth``, ``seg`` and ``vis`` take their one control,
``multicontrol`` takes any of the four; ``multiview`` takes multi-camera requests, which sdg does not make.

The server announces its model in the description of its UI (``GET /config``, which ``gradio_client.Client`` keeps
as ``Client.config``): the page title / header (e.g. ``Cosmos-Transfer2.5 Edge Transfer``) and the default request
shown in its "Request (JSON)" box, which carries one control block per hint key. :func:`model_from_gradio_config`
reads it from there; ``endpoints.cosmos_model`` names the model a job expects (used when a server announces none).
"""
from __future__ import annotations

import json
from typing import Any, Sequence

__all__ = ["CONTROL_KEYS", "MODEL_CONTROLS", "MODELS", "model_from_gradio_config", "controls_problem",
           "model_controls", "model_problem"]

#: Control blocks the server accepts, in the server's order.
CONTROL_KEYS: tuple[str, ...] = ("edge", "vis", "depth", "seg")

#: The control blocks each single-view model takes (its worker's hint keys).
MODEL_CONTROLS: dict[str, tuple[str, ...]] = {
    "edge": ("edge",),
    "edge/distilled": ("edge",),
    "depth": ("depth",),
    "seg": ("seg",),
    "vis": ("vis",),
    "multicontrol": CONTROL_KEYS,
}
#: Every MODEL_NAME the server knows; the ones outside MODEL_CONTROLS take requests sdg does not make.
MODELS: tuple[str, ...] = (*MODEL_CONTROLS, "multiview")

# the UI header of each model, after the "Cosmos-Transfer2.5 " prefix, lower case
_HEADERS = {"edge transfer": "edge", "edge distilled transfer": "edge/distilled", "depth transfer": "depth",
            "segmentation transfer": "seg", "blur transfer": "vis", "multi-control transfer": "multicontrol",
            "multicontrol transfer": "multicontrol", "multiview": "multiview"}
_PREFIX = "cosmos-transfer2.5"


def _from_header(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    t = " ".join(text.strip().lstrip("#").split()).lower()
    if not t.startswith(_PREFIX):
        return None
    return _HEADERS.get(t[len(_PREFIX):].strip())


def _from_request(text: Any) -> str | None:
    """The model of a default request: its control blocks (one: that model; several: multicontrol)."""
    if not isinstance(text, str):
        return None
    try:
        req = json.loads(text)
    except ValueError:
        return None
    if not isinstance(req, dict):
        return None
    keys = [k for k in CONTROL_KEYS if isinstance(req.get(k), dict)]
    if not keys:
        views = [v for v in req.values() if isinstance(v, dict) and "input_path" in v]
        return "multiview" if views else None
    if len(keys) > 1:
        return "multicontrol"
    if keys == ["edge"] and "distilled" in str(req.get("name", "")).lower():
        return "edge/distilled"
    return keys[0]


def model_from_gradio_config(config: Any) -> str | None:
    """The MODEL_NAME a Cosmos-Transfer2.5 Gradio server runs, read from its UI description (the ``/config``
    JSON: ``title``, the markdown header, the "Request (JSON)" box's default request); None when it says nothing."""
    if not isinstance(config, dict):
        return None
    found = _from_header(config.get("title"))
    if found:
        return found
    comps = [c for c in config.get("components") or [] if isinstance(c, dict)]
    for c in comps:
        props = c.get("props") or {}
        if c.get("type") == "markdown":
            found = _from_header(props.get("value"))
            if found:
                return found
    for c in comps:
        props = c.get("props") or {}
        if "request" in str(props.get("label", "")).lower():
            found = _from_request(props.get("value"))
            if found:
                return found
    return None


def model_controls(model: str) -> tuple[str, ...]:
    """The control blocks ``model`` takes; ValueError for a model whose requests sdg does not make."""
    if model not in MODEL_CONTROLS:
        raise ValueError(f"model {model!r} takes no single-view control requests; sdg needs one of "
                         f"{', '.join(MODEL_CONTROLS)}")
    return MODEL_CONTROLS[model]


def _takes(model: str) -> str:
    keys = MODEL_CONTROLS[model]
    return f"the {keys[0]} control only" if len(keys) == 1 else f"any of {', '.join(keys)}"


def _model_for(controls: Sequence[str]) -> str:
    return controls[0] if len(controls) == 1 else "multicontrol"


def controls_problem(model: str, controls: Sequence[str] | None, announced: bool) -> tuple[str, str] | None:
    """(what is wrong, what to change) when a job's ``augmentation.controls`` cannot go to a server running
    ``model`` (``announced``: the server said so; else it is ``endpoints.cosmos_model``); None when they fit.
    ``controls`` None: the job left them to the model."""
    if model not in MODEL_CONTROLS:
        where = f"the server runs model {model!r}" if announced else f"endpoints.cosmos_model is {model!r}"
        return (f"{where}, which takes multi-camera requests sdg does not make",
                f"restart the server with MODEL_NAME set to one of {', '.join(MODEL_CONTROLS)}")
    if controls is None:
        return None
    extra = [c for c in controls if c not in MODEL_CONTROLS[model]]
    if not extra:
        return None
    fits = [c for c in controls if c in MODEL_CONTROLS[model]] or list(MODEL_CONTROLS[model])
    keep = ", ".join(fits)
    if announced:
        return (f"the server runs model {model!r} (MODEL_NAME={model}), which takes {_takes(model)}; "
                f"augmentation.controls asks for {list(controls)}",
                f"set augmentation.controls: [{keep}] and endpoints.cosmos_model: {model}, or restart the server "
                f"with MODEL_NAME={_model_for(list(controls))}")
    return (f"endpoints.cosmos_model is {model!r}, which takes {_takes(model)}; augmentation.controls asks for "
            f"{list(controls)}",
            f"set endpoints.cosmos_model to the server's MODEL_NAME ({_model_for(list(controls))} for these "
            f"controls) or augmentation.controls: [{keep}]")


def model_problem(announced: str | None, expected: str | None, expected_explicit: bool,
                  controls: Sequence[str] | None, made_controls: Sequence[str] | None) -> tuple[str, str] | None:
    """(what is wrong, what to change) for a job against a server, or None when they fit.

    ``announced``: the model the server announces (None: it does not); ``expected``: ``endpoints.cosmos_model``
    (``expected_explicit``: the job set it); ``controls``: ``augmentation.controls`` when the job set them, else
    None, and then ``made_controls`` are the (default) controls the job makes, of which the model must take one."""
    if announced and expected_explicit and expected and announced != expected:
        return (f"the server runs model {announced!r} (MODEL_NAME={announced}) but endpoints.cosmos_model is "
                f"{expected!r}", f"set endpoints.cosmos_model: {announced}, or restart the server with "
                                 f"MODEL_NAME={expected}")
    model = announced or expected
    if not model:
        return None
    problem = controls_problem(model, controls, announced is not None)
    if problem or controls is not None or made_controls is None:
        return problem
    if not any(c in MODEL_CONTROLS[model] for c in made_controls):
        where = f"the server runs model {model!r}" if announced else f"endpoints.cosmos_model is {model!r}"
        return (f"{where}, which takes {_takes(model)}; the job makes {list(made_controls)} (augmentation.controls)",
                f"set augmentation.controls: [{MODEL_CONTROLS[model][0]}]")
    return None
