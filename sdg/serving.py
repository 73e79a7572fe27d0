"""The pipeline's side of Ray Serve: deploy the `augment` and `prompt` apps for a job, and small adapters that
make their deployment handles look like the Augmenter / PromptSource protocols."""
from __future__ import annotations

from sdg.config import JobConfig

AUGMENT_APP, PROMPT_APP = "augment", "prompt"


def uses_serve(cfg: JobConfig) -> bool:
    mode = cfg.backends.serve
    if mode == "auto":
        return cfg.backends.augmenter != "builtin" or cfg.backends.prompts != "template"
    return mode == "always"


def deploy(cfg: JobConfig) -> None:
    """Start (or update) both apps on the connected Ray cluster and wait until they are healthy."""
    from ray import serve

    from serve.apps import augment_app, prompt_app

    serve.start(http_options={"host": "127.0.0.1", "port": cfg.resources.serve_port})
    serve.run(augment_app(cfg), name=AUGMENT_APP, route_prefix=None)
    serve.run(prompt_app(cfg), name=PROMPT_APP, route_prefix=None)


def shutdown() -> None:
    from ray import serve

    for app in (AUGMENT_APP, PROMPT_APP):
        try:
            serve.delete(app)
        except Exception:  # noqa: BLE001
            pass


class ServeAugmenter:
    """Augmenter over the `augment` app's handle; `augment_many` keeps several replicas busy at once."""

    def __init__(self):
        from ray import serve

        self.handle = serve.get_deployment_handle("Augmenter", app_name=AUGMENT_APP)
        self.name = "serve:augment"

    def augment(self, req):
        return self.handle.augment.remote(req).result()

    def augment_many(self, reqs):
        futures = [self.handle.augment.remote(r) for r in reqs]
        return [f.result() for f in futures]


class ServePromptSource:
    def __init__(self):
        from ray import serve

        self.handle = serve.get_deployment_handle("Prompter", app_name=PROMPT_APP)
        self.name = "serve:prompt"

    def prompt(self, clip_id, rgb, look, fps):
        return self.handle.prompt.remote(clip_id, rgb, look, fps).result()
