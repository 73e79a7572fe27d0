"""CPU simulator: renders a Scene through a static pinhole Camera into rgb, depth, semantic, instance, normals."""
from sdg.render.renderer import RENDERER_VERSION, SceneRenderer, render_clip, render_frame, silhouette
from sdg.render.simulator import BuiltinSimulator

__all__ = ["BuiltinSimulator", "RENDERER_VERSION", "SceneRenderer", "render_clip", "render_frame", "silhouette"]
