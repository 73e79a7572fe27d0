"""Prompt sources: the text prompt of each augmented variant of a clip.

* :class:`TemplatePromptSource` (no server): a rich prompt assembled from phrase banks per weather, lighting and road
  condition, the choices seeded by ``look.seed``.
* :class:`NimPromptSource`: the Cosmos-Reason VLM captions the clip (base64 MP4 ``video_url`` part; the answer is
  taken from ``<answer>…</answer>``), the LLM rewrites the caption with the variant's ``{weather_condition}``,
  ``{lighting_condition}`` and ``{road_condition}`` (phrases chosen by ``look.seed``), and an optional polish call
  tidies the result. Every LLM call carries ``seed=look.seed`` and ``temperature=0``: same look, same prompt.
  Reasoning traces never reach a prompt: ``<think>`` blocks are stripped and the LLM is sent its reasoning-off
  directive (``/no_think`` for Nemotron, :func:`sdg.augment.nim.reasoning_off`). Every LLM answer is checked
  (:func:`refusal`: non-empty, no leftover tags, 8..300 words, not an echo of the instruction); a refused answer is
  asked again (a bounded number of times, with the next seed and a reminder), and when every answer is refused the
  variant gets the template prompt, recorded as ``prompt_origin: template_fallback`` with the reasons in its
  provenance.

Both return a :class:`~sdg.augment.base.Prompt`: the text and the provenance merged into the variant's rows.

:func:`make_prompt_source` builds the configured source from a :class:`~sdg.config.JobConfig`.
"""
from __future__ import annotations

import base64
import logging
import os
import random
import re
import string
import threading
from collections import OrderedDict
from typing import Mapping, Sequence

import cv2
import numpy as np

from sdg.augment.base import Look, Prompt
from sdg.augment.nim import NimClient, reasoning_off
from sdg.augment.video import encode_mp4

__all__ = ["WEATHER", "LIGHTING", "ROAD", "NEGATIVE_PROMPT", "TemplatePromptSource", "NimPromptSource",
           "DEFAULT_FILL_TEMPLATE", "DEFAULT_VALUES", "extract_answer", "make_prompt_source", "condition_values",
           "refusal"]

log = logging.getLogger(__name__)

#: Phrase banks keyed by Look values. Unknown values fall back to a generic phrase built from the value.
WEATHER: dict[str, list[str]] = {
    "clear": ["under a clear blue sky with crisp, sharp shadows", "in clear weather with excellent visibility",
              "under a cloudless sky, the air clean and transparent"],
    "fog": ["in dense fog that swallows the distant buildings", "in thick grey fog, visibility falling off within "
            "a block", "in a heavy mist that softens every light and outline"],
    "rain": ["in steady rain, streaks of water falling across the view", "in a heavy downpour with rain splashing "
             "off the pavement", "during persistent rain under a dark, overcast sky"],
    "snow": ["during a snowfall, flakes drifting through the air", "in falling snow with a white layer on the "
             "kerbs, roofs and sidewalks", "in a winter snowstorm, snow settling on every horizontal surface"],
}
LIGHTING: dict[str, list[str]] = {
    "day": ["in bright midday daylight", "in soft, even daylight under light cloud", "on a sunny afternoon"],
    "night": ["at night, lit by orange sodium street lamps and the headlights and tail lights of the traffic",
              "late at night, the junction lit by street lights, shop windows and vehicle headlights",
              "in the dark of night with glowing street lamps and light trails from moving cars"],
    "dusk": ["at dusk, under a warm orange sky with long soft shadows", "during the golden hour, warm low sunlight "
             "raking across the facades", "at twilight, the sky fading from amber to deep blue as street lights "
             "come on"],
}
ROAD: dict[str, list[str]] = {
    "dry": ["dry asphalt with crisp white lane markings", "a dry road surface with clearly painted crossings"],
    "wet": ["wet asphalt that mirrors the lights and the vehicles, with shallow puddles",
            "a glistening wet road surface with reflections and spray behind the tyres"],
}
_SHOTS = ["photorealistic traffic camera video", "photorealistic video from a fixed, elevated traffic camera",
          "realistic CCTV-style surveillance video"]
_SCENES = ["Cars, vans and buses move through the intersection while pedestrians cross at the crosswalks.",
           "Vehicles turn, stop and accelerate through the junction; pedestrians walk along the sidewalks.",
           "Everyday urban traffic flows through the intersection, with people waiting at the kerbs."]
_STYLES = ["Realistic materials and textures, natural colours, real-world camera exposure, no text overlays.",
           "High detail, true-to-life lighting and reflections, stable camera, no captions or watermarks.",
           "Natural motion, realistic vehicles and people, authentic urban surroundings, no overlays."]

#: A negative prompt for Cosmos-Transfer (our wording): what the generated video should not look like.
NEGATIVE_PROMPT = ("Cartoonish, video-game or computer-graphics look, flat untextured surfaces, plastic-looking "
                   "vehicles and people, blurry or pixelated frames, flickering, distorted or melting objects, "
                   "vehicles or people appearing and disappearing, unnatural colours, subtitles, text, watermarks.")


def _phrase(bank: Mapping[str, Sequence[str]], value: str, rng: random.Random, fallback: str) -> str:
    options = bank.get(value)
    if not options:
        return fallback.format(value=value.replace("_", " "))
    return options[rng.randrange(len(options))]


class TemplatePromptSource:
    """Prompts from phrase banks, no server. Deterministic: the same Look gives the same text; the phrase choices
    come from ``random.Random(look.seed)``. Unknown weather/lighting/road values get a generic phrase."""

    name = "template"

    def __init__(self, weather: Mapping[str, Sequence[str]] | None = None,
                 lighting: Mapping[str, Sequence[str]] | None = None, road: Mapping[str, Sequence[str]] | None = None,
                 location: str = "a city intersection"):
        self.weather = dict(WEATHER if weather is None else weather)
        self.lighting = dict(LIGHTING if lighting is None else lighting)
        self.road = dict(ROAD if road is None else road)
        self.location = location

    def text(self, look: Look) -> str:
        rng = random.Random(look.seed)
        shot = _SHOTS[rng.randrange(len(_SHOTS))]
        light = _phrase(self.lighting, look.lighting, rng, "in {value} lighting")
        weather = _phrase(self.weather, look.weather, rng, "in {value} weather")
        road = _phrase(self.road, look.road, rng, "a {value} road surface")
        scene = _SCENES[rng.randrange(len(_SCENES))]
        style = _STYLES[rng.randrange(len(_STYLES))]
        return (f"A {shot} of {self.location} {light}, {weather}. The street is {road}. {scene} {style}")

    def prompt(self, clip_id: str, rgb: np.ndarray, look: Look, fps: float) -> Prompt:
        return Prompt(self.text(look), {"prompt_origin": "template"})


# ---------------------------------------------------------------------------------------------------- NIM prompts
CAPTION_INSTRUCTION = (
    "Describe this traffic camera video in detail for a video generation model: the road layout, the buildings and "
    "surroundings, every vehicle and pedestrian with its type, colour, position and motion, and any collision or "
    "unusual event. Do not describe the weather or the time of day. Answer in the format "
    "<think>your reasoning</think><answer>your description</answer>.")

#: Default LLM instruction: what to do, then the data one field a line. Placeholders: {caption},
#: {weather_condition}, {lighting_condition}, {road_condition}.
DEFAULT_FILL_TEMPLATE = (
    "Rewrite the description of a traffic camera video below as a single paragraph that prompts a photorealistic "
    "video generation model. Keep every road, building, vehicle and pedestrian, their positions and motions exactly "
    "as described, and change only the conditions to the ones given below; describe how they look on the scene. "
    "Answer with the prompt only.\n\n"
    "Description: {caption}\nWeather: {weather_condition}\nLighting: {lighting_condition}\nRoad: {road_condition}")

POLISH_INSTRUCTION = (
    "Polish the video generation prompt below: fix grammar, remove repetition and any mention of being a prompt, "
    "keep all content and conditions, and keep it under 250 words. Answer with the prompt only.\n\nPrompt: {prompt}")

#: Added to the system message when an answer was refused and the LLM is asked again.
RETRY_REMINDER = ("Answer with the finished prompt text only: do not repeat or quote the instructions, do not show "
                  "your reasoning, no tags.")
RETRY_TEMPERATURE = 0.6  # a refused answer at temperature 0 would come back unchanged

#: Default phrases for the template variables, keyed by Look values.
DEFAULT_VALUES: dict[str, dict[str, list[str]]] = {
    "weather_condition": {
        "clear": ["clear with a cloudless sky", "clear, with crisp air and sharp shadows"],
        "fog": ["dense fog with visibility of about fifty metres", "thick fog that hides distant buildings"],
        "rain": ["steady rain falling from a dark overcast sky", "a heavy downpour with visible rain streaks"],
        "snow": ["falling snow with a white layer on the sidewalks and roofs", "a snowstorm with drifting flakes"],
    },
    "lighting_condition": {
        "day": ["bright daylight", "soft overcast daylight"],
        "night": ["night, lit by street lamps and vehicle headlights", "late night with glowing street lights"],
        "dusk": ["dusk with a warm orange sky and long shadows", "golden hour with low warm sunlight"],
    },
    "road_condition": {
        "dry": ["dry asphalt", "a dry road with crisp lane markings"],
        "wet": ["wet asphalt reflecting the lights, with puddles", "a glistening wet surface with spray"],
    },
}
_LOOK_FIELD = {"weather_condition": "weather", "lighting_condition": "lighting", "road_condition": "road"}

_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_TAG = re.compile(r"</?[A-Za-z_][\w-]*\s*/?>|<\|[^>]*\|>")  # <think>, </answer>, <br/>, <|im_end|>, ...
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def extract_answer(text: str) -> str:
    """The text inside ``<answer>…</answer>`` (an unclosed tag runs to the end); without an answer tag, the whole
    text with ``<think>…</think>`` blocks removed. Whitespace is collapsed."""
    m = _ANSWER.search(text)
    out = m.group(1) if m else _THINK.sub("", text)
    out = re.sub(r"</?(answer|think)>", "", out, flags=re.I)
    return " ".join(out.split())


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    w = _WORD.findall(text.lower())
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def _fixed_shingles(template: str) -> set[tuple[str, ...]]:
    """The word 4-grams of a template's own wording (each literal piece between placeholders on its own)."""
    out: set[tuple[str, ...]] = set()
    for literal, _, _, _ in string.Formatter().parse(template):
        out |= _shingles(literal)
    return out


def refusal(answer: str, template: str, min_words: int = 8, max_words: int = 300) -> str | None:
    """Why an LLM answer (already through :func:`extract_answer`) cannot be a Cosmos prompt, or None when it can.

    Refused: empty; leftover markup (``<think>``, ``</answer>``, ``<|…|>``); fewer than ``min_words`` or more than
    ``max_words`` words; an echo of the instruction, i.e. half or more of ``template``'s own word 4-grams appear in
    the answer, or half or more of the answer's 4-grams come from the template's wording."""
    if not answer or not answer.strip():
        return "empty answer"
    tag = _TAG.search(answer)
    if tag:
        return f"leftover tag {tag.group(0)!r}"
    n = len(answer.split())
    if n < min_words:
        return f"too short ({n} words < {min_words})"
    if n > max_words:
        return f"too long ({n} words > {max_words})"
    fixed = _fixed_shingles(template)
    if fixed:
        got = _shingles(answer)
        shared = len(fixed & got)
        if shared >= 0.5 * len(fixed) or (got and shared >= 0.5 * len(got)):
            return "echo of the instruction"
    return None


def condition_values(look: Look, values: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, str]:
    """The phrase of each template variable for ``look``, chosen by ``random.Random(look.seed)`` in the fixed
    variable order; a Look value missing from ``values`` is used as its own phrase."""
    rng = random.Random(look.seed)
    out = {}
    for var in ("weather_condition", "lighting_condition", "road_condition"):
        v = getattr(look, _LOOK_FIELD[var])
        options = list(values.get(var, {}).get(v, ()))
        out[var] = options[rng.randrange(len(options))] if options else v.replace("_", " ")
    return out


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


class NimPromptSource:
    """VLM caption → LLM template fill → optional LLM polish, every LLM answer checked (see the module docstring).

    Args:
        vlm: the captioning NIM (Cosmos-Reason), sent the clip as a base64 MP4 ``video_url`` part.
        llm: the text NIM filling ``template``.
        template: instruction with ``{caption}`` and any of ``{weather_condition}``, ``{lighting_condition}``,
            ``{road_condition}``; other placeholders are an error.
        values: phrases per variable per Look value (default :data:`DEFAULT_VALUES`).
        polish: make a second LLM call that tidies the filled prompt.
        caption_max_side, caption_max_fps: the captioned video is downscaled/subsampled to these limits.
        llm_params: extra chat parameters (default ``temperature=0``, ``max_tokens=1024``; ``seed`` is the look's).
        answer_retries: how many more times a refused LLM answer is asked for (next seed, a reminder, temperature
            :data:`RETRY_TEMPERATURE`) before the template prompt is used.
        min_words, max_words: length bounds of an accepted answer.
        fallback: the source of the fallback prompt (default :class:`TemplatePromptSource`).
    """

    name = "nim"

    def __init__(self, vlm: NimClient, llm: NimClient, template: str | None = None,
                 values: Mapping[str, Mapping[str, Sequence[str]]] | None = None, polish: bool = True,
                 caption_max_side: int = 640, caption_max_fps: float = 4.0, llm_params: dict | None = None,
                 cache_size: int = 64, answer_retries: int = 2, min_words: int = 8, max_words: int = 300,
                 fallback: TemplatePromptSource | None = None):
        self.vlm, self.llm = vlm, llm
        self.template = DEFAULT_FILL_TEMPLATE if template is None else template
        names = _placeholders(self.template)
        unknown = names - {"caption", *_LOOK_FIELD}
        if unknown:
            raise ValueError(f"prompt template: unknown placeholders {sorted(unknown)}; use {{caption}}, "
                             "{weather_condition}, {lighting_condition}, {road_condition}")
        if "caption" not in names:
            raise ValueError("prompt template: must contain {caption} (the VLM's description of the clip)")
        if answer_retries < 0 or not 0 < min_words <= max_words:
            raise ValueError(f"need answer_retries >= 0 and 0 < min_words <= max_words, got {answer_retries}, "
                             f"{min_words}, {max_words}")
        self.values = DEFAULT_VALUES if values is None else values
        self.polish = polish
        self.caption_max_side = int(caption_max_side)
        self.caption_max_fps = float(caption_max_fps)
        self.llm_params = {"temperature": 0.0, "max_tokens": 1024, **(llm_params or {})}
        self.answer_retries = int(answer_retries)
        self.min_words, self.max_words = int(min_words), int(max_words)
        self.fallback = fallback or TemplatePromptSource()
        self._captions: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Picklable (Ray ships prompt sources to actors); the caption cache stays behind."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_captions")}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._captions = OrderedDict()
        self._lock = threading.Lock()

    def _caption_video(self, rgb: np.ndarray, fps: float) -> tuple[bytes, float]:
        stride = max(1, int(round(fps / self.caption_max_fps))) if fps > self.caption_max_fps else 1
        frames = np.asarray(rgb)[::stride]
        h, w = frames.shape[1:3]
        s = self.caption_max_side / max(h, w)
        if s < 1.0:
            size = (max(2, int(round(w * s))), max(2, int(round(h * s))))
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        return encode_mp4(frames, fps / stride), fps / stride

    def caption(self, clip_id: str, rgb: np.ndarray, fps: float) -> str:
        """The VLM's description of the clip (cached per clip id: every variant of a clip shares it)."""
        with self._lock:
            if clip_id in self._captions:
                self._captions.move_to_end(clip_id)
                return self._captions[clip_id]
        self.vlm.resolve_model()
        data, _ = self._caption_video(rgb, fps)
        url = "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
        messages = [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": url}},
            {"type": "text", "text": CAPTION_INSTRUCTION},
        ]}]
        directive = reasoning_off(self.vlm.model)
        if directive:
            messages.insert(0, {"role": "system", "content": directive})
        text = extract_answer(self.vlm.chat(messages, temperature=0.0, max_tokens=1024))
        if not text:
            raise ValueError(f"clip {clip_id}: the VLM ({self.vlm.model}) returned an empty caption")
        with self._lock:
            self._captions[clip_id] = text
            while len(self._captions) > self._cache_size:
                self._captions.popitem(last=False)
        return text

    def _messages(self, instruction: str, attempt: int) -> list[dict]:
        system = [t for t in (reasoning_off(self.llm.model), RETRY_REMINDER if attempt else None) if t]
        head = [{"role": "system", "content": "\n".join(system)}] if system else []
        return head + [{"role": "user", "content": instruction}]

    def ask(self, instruction: str, template: str, look: Look) -> tuple[str | None, list[str]]:
        """The first accepted LLM answer to ``instruction`` (made from ``template``) within ``1 + answer_retries``
        attempts, or None; and the reasons of the refused ones. Attempt k sends seed ``look.seed + k``."""
        self.llm.resolve_model()
        refused: list[str] = []
        for attempt in range(self.answer_retries + 1):
            params = {**self.llm_params, "seed": look.seed + attempt}
            if attempt:
                params["temperature"] = max(float(params.get("temperature") or 0.0), RETRY_TEMPERATURE)
            text = extract_answer(self.llm.chat(self._messages(instruction, attempt), **params))
            why = refusal(text, template, self.min_words, self.max_words)
            if why is None:
                return text, refused
            refused.append(why)
        return None, refused

    def rewrite(self, instruction: str, max_tokens: int = 300) -> str:
        """The LLM's answer to a free instruction (e.g. paraphrase a caption), reasoning trace off and stripped.
        The caller checks the answer (sdg.som.captions keeps a paraphrase only when every fact survives)."""
        self.llm.resolve_model()
        return extract_answer(self.llm.chat(self._messages(instruction, 0), temperature=0.3, max_tokens=max_tokens))

    def prompt(self, clip_id: str, rgb: np.ndarray, look: Look, fps: float) -> Prompt:
        caption = self.caption(clip_id, rgb, fps)
        instruction = self.template.format(caption=caption, **condition_values(look, self.values))
        text, refused = self.ask(instruction, self.template, look)
        prov: dict = {"prompt_origin": "nim", "vlm_model": self.vlm.model, "llm_model": self.llm.model}
        if text is None:
            log.warning("clip %s variant %d: every LLM answer was refused (%s); using the template prompt", clip_id,
                        look.variant, "; ".join(refused))
            return Prompt(self.fallback.text(look), {**prov, "prompt_origin": "template_fallback",
                                                     "prompt_refused": refused})
        if refused:
            prov["prompt_refused"] = refused
        if self.polish:
            polished, p_refused = self.ask(POLISH_INSTRUCTION.format(prompt=text), POLISH_INSTRUCTION, look)
            if polished is None:
                log.warning("clip %s variant %d: every polished answer was refused (%s); keeping the filled prompt",
                            clip_id, look.variant, "; ".join(p_refused))
                prov["polish_refused"] = p_refused
            else:
                text = polished
                if p_refused:
                    prov["polish_refused"] = p_refused
        return Prompt(text, prov)


def make_prompt_source(cfg) -> TemplatePromptSource | NimPromptSource:
    """The prompt source of a :class:`~sdg.config.JobConfig` (``backends.prompts``: ``template`` | ``nim``)."""
    from sdg.config import ConfigError

    kind = cfg.backends.prompts
    if kind == "template":
        return TemplatePromptSource()
    if kind == "nim":
        ep = cfg.endpoints
        # the config's value (sdg.config applies the env overrides to an endpoints section), else the env (a
        # config without an endpoints section gets Endpoints' default instance, which never read the env)
        urls = {n: getattr(ep, n) or os.environ.get(e) for n, e in (("vlm_url", "SDG_VLM_URL"),
                                                                    ("llm_url", "SDG_LLM_URL"))}
        missing = [f"endpoints.{n} (or ${e})" for n, e in (("vlm_url", "SDG_VLM_URL"), ("llm_url", "SDG_LLM_URL"))
                   if not urls[n]]
        if missing:
            raise ConfigError(f"{cfg.source or '<config>'}: backends.prompts is 'nim' but {', '.join(missing)} "
                              "is not set; set it or use backends.prompts: template")
        return NimPromptSource(NimClient(urls["vlm_url"], ep.vlm_model, setting="endpoints.vlm_model"),
                               NimClient(urls["llm_url"], ep.llm_model, setting="endpoints.llm_model"))
    raise ConfigError(f"{cfg.source or '<config>'}: backends.prompts: unknown prompt source {kind!r}")
