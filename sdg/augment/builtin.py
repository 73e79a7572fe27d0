"""The built-in CPU augmenter: the Augmenter backend "builtin", rendering each variant's Look with sdg.augment.looks.

Interchangeable with the Cosmos-Transfer client per variant: the same Look that fills the Cosmos prompt drives the
rendering here. Deterministic: the same request gives the same bytes.
"""
from __future__ import annotations

import numpy as np

from sdg.augment.base import AugmentRequest
from sdg.augment.looks import render_look

DEFAULT_FOV = 90.0  # CARLA's default camera fov; used when the request does not say which camera made the frames


class BuiltinAugmenter:
    """Augmenter backend "builtin" (implements sdg.augment.base.Augmenter).

    fov: horizontal field of view (degrees) assumed for requests that carry no camera. A request may carry one as
    an attribute ``camera`` (a sdg.geometry.Camera or its ``as_dict()``), whose fov then wins.
    sensor: False leaves out sensor noise and vignetting (exact outputs for tests).
    """

    name = "builtin"

    def __init__(self, fov: float = DEFAULT_FOV, sensor: bool = True):
        if not 0.0 < float(fov) < 180.0:
            raise ValueError(f"BuiltinAugmenter: fov must be in (0, 180) degrees, got {fov}")
        self.fov = float(fov)
        self.sensor = bool(sensor)

    def _fov(self, req: AugmentRequest) -> float:
        cam = getattr(req, "camera", None)
        if cam is None:
            return self.fov
        fov = cam.get("fov") if isinstance(cam, dict) else getattr(cam, "fov", None)
        return float(fov) if fov is not None else self.fov

    def augment(self, req: AugmentRequest) -> np.ndarray:
        """(T,H,W,3) uint8 frames of req.look rendered onto req.rgb, aligned pixel for pixel with the input."""
        try:
            return render_look(req.rgb, req.depth, req.semantic, req.look, lights=req.lights or None,
                               fov=self._fov(req), sensor=self.sensor)
        except ValueError as e:
            raise ValueError(f"builtin augmenter, clip {req.clip_id!r} variant {req.look.variant}: {e}") from e
