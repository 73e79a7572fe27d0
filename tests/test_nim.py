"""NimClient and the prompt sources against a real OpenAI-compatible HTTP server (tests/servers/openai_server.py)."""
from __future__ import annotations

import logging
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from servers.cosmos_app import free_port  # noqa: E402
from servers.openai_server import OpenAITestServer, rewrite  # noqa: E402

from sdg.augment.base import Look, Prompt, PromptSource, choose_look  # noqa: E402
from sdg.augment.http import backoff_delays, redact, redact_url, retry  # noqa: E402
from sdg.augment.nim import NimClient, NimError, check_nims, reasoning_off  # noqa: E402
from sdg.augment.prompts import (  # noqa: E402
    DEFAULT_FILL_TEMPLATE,
    DEFAULT_VALUES,
    POLISH_INSTRUCTION,
    RETRY_REMINDER,
    RETRY_TEMPERATURE,
    NimPromptSource,
    TemplatePromptSource,
    condition_values,
    extract_answer,
    make_prompt_source,
    refusal,
)
from sdg.config import ConfigError, parse_config  # noqa: E402

VLM, LLM = "nvidia/cosmos-reason1-7b", "nvidia/nvidia-nemotron-nano-9b-v2"  # the workflow's stack
SECRET = "nvapi-TESTSECRET-0123456789abcdef"


@pytest.fixture(scope="module")
def server():
    s = OpenAITestServer().start()
    yield s
    s.close()


@pytest.fixture()
def srv(server, monkeypatch):
    server.reset()
    monkeypatch.delenv("NGC_API_KEY", raising=False)
    return server


def nim(srv, model=LLM, **kw) -> NimClient:
    kw.setdefault("retries", 3)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 10.0)
    return NimClient(srv.url, model, **kw)


def color_clip(t=8, h=48, w=64, rgb=(200, 40, 10)) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (t, h, w, 1))


# ------------------------------------------------------------------------------------------------ NimClient
def test_health_models_and_check(srv):
    c = nim(srv)
    assert c.health() is True
    assert c.models() == [VLM, LLM]
    assert c.check().ok
    srv.ready = False
    assert c.health() is False
    assert not c.check().ok
    srv.ready = True
    v = nim(srv, model="nvidia/other").check()
    assert not v.ok and "nvidia/other" in v.detail and "llm_model" in v.line()
    cfg = _cfg(backends={"prompts": "nim"}, endpoints={"vlm_url": srv.url, "llm_url": f"http://127.0.0.1:{free_port()}"})
    vlm, llm = check_nims(cfg)
    assert vlm.ok and VLM in vlm.service
    assert not llm.ok and "SDG_LLM_URL" in llm.line()
    assert NimClient(srv.url + "/v1/", LLM).url == srv.url  # a /v1 suffix is accepted


def test_chat_sends_model_params_and_bearer(srv, monkeypatch):
    monkeypatch.setenv("NGC_API_KEY", SECRET)
    text = nim(srv).chat([{"role": "user", "content": "hello"}], temperature=0.2, max_tokens=7)
    assert text == "<think>thinking</think>ECHO[seed=None]: hello"
    req = srv.chat_requests()[-1]
    assert req["body"] == {"model": LLM, "messages": [{"role": "user", "content": "hello"}], "temperature": 0.2,
                           "max_tokens": 7}
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    monkeypatch.delenv("NGC_API_KEY")
    nim(srv).chat([{"role": "user", "content": "x"}])
    assert "Authorization" not in srv.chat_requests()[-1]["headers"]


def test_5xx_is_retried_with_backoff(srv, caplog):
    caplog.set_level(logging.WARNING, logger="sdg.augment.nim")
    srv.fail(2, 503)
    assert nim(srv).chat([{"role": "user", "content": "hi"}]).endswith("ECHO[seed=None]: hi")
    assert len(srv.chat_requests()) == 3
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


def test_retries_are_bounded(srv):
    srv.fail(100, 503)
    with pytest.raises(NimError) as ei:
        nim(srv, retries=2).chat([{"role": "user", "content": "hi"}])
    assert ei.value.status == 503 and ei.value.transient
    assert len(srv.chat_requests()) == 3
    msg = str(ei.value)
    assert "HTTP 503" in msg and "3 attempts" in msg and srv.url + "/v1/chat/completions" in msg


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_is_not_retried(srv, status):
    srv.fail(5, status)
    with pytest.raises(NimError) as ei:
        nim(srv).chat([{"role": "user", "content": "hi"}])
    assert ei.value.status == status and not ei.value.transient
    assert len(srv.chat_requests()) == 1
    if status == 401:
        assert "$NGC_API_KEY" in str(ei.value)


def test_connection_refused_is_retried_then_explained(caplog):
    caplog.set_level(logging.WARNING, logger="sdg.augment.nim")
    c = NimClient(f"http://127.0.0.1:{free_port()}", LLM, retries=1, backoff=0.01)
    with pytest.raises(NimError, match="ConnectError.*2 attempts.*health/ready") as ei:
        c.models()
    assert ei.value.transient
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 1
    assert c.health() is False


def test_key_never_in_logs_errors_or_repr(monkeypatch, caplog):
    """The server answers errors with the key in the body, as careless proxies do."""
    s = OpenAITestServer().start()
    try:
        orig = s.answer

        def leaky(body):
            raise ValueError(f"bad request from Bearer {SECRET} (key {SECRET})")

        s.answer = leaky
        monkeypatch.setenv("NGC_API_KEY", SECRET)
        caplog.set_level(logging.DEBUG)
        c = NimClient(s.url, LLM, retries=1, backoff=0.01)
        with pytest.raises(NimError) as e400:
            c.chat([{"role": "user", "content": "x"}])
        assert s.chat_requests()[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"  # it was sent
        s.answer = orig
        s.fail(10, 500)
        with pytest.raises(NimError) as e500:
            c.chat([{"role": "user", "content": "x"}])
        texts = [str(e400.value), str(e500.value), repr(c), caplog.text, c.check().line()]
        for t in texts:
            assert SECRET not in t
        assert "Bearer ***" in str(e400.value)
    finally:
        s.close()


def test_redaction_helpers(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    assert redact("token hf_abcdefghijklmnop here") == "token *** here"
    assert redact("Authorization: Bearer abc.def-123") == "Authorization: Bearer ***"
    assert redact("see https://user:pw@host:8080/x") == "see https://***@host:8080/x"
    assert redact_url("http://u:p@h:1/a?key=zzz") == "http://***@h:1/a"
    monkeypatch.setenv("MY_KEY", "custom-secret-value")
    assert redact("custom-secret-value", extra_env=("MY_KEY",)) == "***"


def test_backoff_is_bounded_exponential():
    assert backoff_delays(5, 1.0, 5.0) == [1.0, 2.0, 4.0, 5.0, 5.0]
    import random

    jit = backoff_delays(4, 2.0, 100.0, random.Random(0))
    assert all(0.5 * b <= d <= b for d, b in zip(jit, [2.0, 4.0, 8.0, 16.0]))
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("down")
        return "ok"

    assert retry(flaky, retries=5, is_transient=lambda e: isinstance(e, OSError), base=1.0, cap=10.0,
                 sleep=waits.append, rng=random.Random(1)) == "ok"
    assert len(calls) == 3 and len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    with pytest.raises(KeyError):  # not transient: no retry
        retry(lambda: {}["x"], retries=5, is_transient=lambda e: isinstance(e, OSError), sleep=waits.append)
    assert len(waits) == 2


# ------------------------------------------------------------------------------------------------ prompts
def test_extract_answer():
    assert extract_answer("<think>\nhmm\n</think>\n<answer>\n A  car\nturns. </answer>") == "A car turns."
    assert extract_answer("<think>x</think><answer>unclosed answer") == "unclosed answer"
    assert extract_answer("<think>reasoning</think> The final text.") == "The final text."
    assert extract_answer("<think>never closed") == ""
    assert extract_answer("plain") == "plain"


def test_template_prompts_are_seeded_and_follow_the_look():
    src = TemplatePromptSource()
    assert isinstance(src, PromptSource) and src.name == "template"
    rgb = color_clip(2)
    fog_night = Look("fog", "night", "wet", seed=11, variant=0)
    result = src.prompt("c", rgb, fog_night, 10.0)
    assert isinstance(result, Prompt) and result.provenance == {"prompt_origin": "template"}
    p = result.text
    assert p == src.prompt("other-clip", rgb, fog_night, 10.0).text == TemplatePromptSource().text(fog_night)
    assert re.search(r"fog|mist", p) and "night" in p and "wet" in p
    snow_day = Look("snow", "day", "dry", seed=11, variant=1)
    q = src.text(snow_day)
    assert "snow" in q and "dry" in q and "fog" not in q
    texts = {src.text(Look("rain", "dusk", "wet", seed=s, variant=0)) for s in range(30)}
    assert len(texts) > 5  # the seed picks among phrasings
    assert "sandstorm" in src.text(Look("sandstorm", "day", "dry", seed=1, variant=0))


def test_condition_values_are_seeded_choices():
    look = Look("fog", "dusk", "wet", seed=99, variant=0)
    v = condition_values(look, DEFAULT_VALUES)
    assert v == condition_values(look, DEFAULT_VALUES)
    assert v["weather_condition"] in DEFAULT_VALUES["weather_condition"]["fog"]
    assert v["lighting_condition"] in DEFAULT_VALUES["lighting_condition"]["dusk"]
    assert v["road_condition"] in DEFAULT_VALUES["road_condition"]["wet"]
    seen = {condition_values(Look("fog", "dusk", "wet", seed=s, variant=0), DEFAULT_VALUES)["weather_condition"]
            for s in range(20)}
    assert seen == set(DEFAULT_VALUES["weather_condition"]["fog"])
    assert condition_values(Look("hail", "day", "dry", 1, 0), DEFAULT_VALUES)["weather_condition"] == "hail"


def test_caption_sends_the_clip_as_base64_mp4(srv):
    src = NimPromptSource(nim(srv, VLM), nim(srv, LLM), caption_max_fps=4.0, caption_max_side=32)
    cap = src.caption("clip1", color_clip(t=8, h=48, w=64), fps=8.0)
    m = re.fullmatch(r"A traffic video of (\d+) frames at (\d+)x(\d+), mean colour (\d+),(\d+),(\d+)\.", cap)
    assert m, cap  # the <think> part is gone, the <answer> kept
    t, w, h, r, g, b = map(int, m.groups())
    assert (t, w, h) == (4, 32, 24)  # 8 fps -> 4 fps, 64x48 -> 32x24
    assert abs(r - 200) < 8 and abs(g - 40) < 8 and abs(b - 10) < 8
    req = srv.chat_requests()[-1]
    assert req["body"]["model"] == VLM and req["body"]["temperature"] == 0.0
    parts = req["body"]["messages"][0]["content"]
    assert parts[0]["type"] == "video_url" and parts[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert src.caption("clip1", color_clip(), 8.0) == cap and len(srv.chat_requests()) == 1  # cached per clip


def _fill(caption: str, look: Look, template: str = DEFAULT_FILL_TEMPLATE) -> str:
    """The stand-in Nemotron's answer to the fill instruction (after its reasoning trace)."""
    return rewrite(template.format(caption=caption, **condition_values(look, DEFAULT_VALUES)))


def test_nim_prompt_fill_polish_and_determinism(srv):
    srv.reset(style="nemotron")
    srv.echo_when = None  # every answer usable: this test counts requests
    srv.caption_text = "Two cars cross the junction; a cyclist waits."
    rgb = color_clip()
    look0 = choose_look(7, "clip9", 0, ["clear", "fog", "rain", "snow"], ["day", "night", "dusk"], ["dry", "wet"])
    look1 = choose_look(7, "clip9", 1, ["clear", "fog", "rain", "snow"], ["day", "night", "dusk"], ["dry", "wet"])

    plain = NimPromptSource(nim(srv, VLM), nim(srv, LLM), polish=False)
    r0 = plain.prompt("clip9", rgb, look0, 10.0)
    p0 = r0.text
    conds = condition_values(look0, DEFAULT_VALUES)
    assert p0 == _fill(srv.caption_text, look0)
    assert p0.startswith(srv.caption_text.rstrip(".") + ".") and "think" not in p0
    for phrase in conds.values():
        assert phrase.rstrip(".") in p0
    assert r0.provenance == {"prompt_origin": "nim", "vlm_model": VLM, "llm_model": LLM}
    fill = srv.chat_requests()[-1]["body"]
    assert fill["model"] == LLM and fill["seed"] == look0.seed and fill["temperature"] == 0.0
    assert fill["messages"][0] == {"role": "system", "content": "/no_think"}  # Nemotron's reasoning switch
    assert fill["messages"][1]["content"] == DEFAULT_FILL_TEMPLATE.format(caption=srv.caption_text, **conds)

    srv.reset(style="nemotron")
    srv.echo_when = None
    srv.caption_text = "Two cars cross the junction; a cyclist waits."
    polished = NimPromptSource(nim(srv, VLM), nim(srv, LLM), polish=True)
    a0 = polished.prompt("clip9", rgb, look0, 10.0).text
    a1 = polished.prompt("clip9", rgb, look1, 10.0).text
    assert len(srv.chat_requests()) == 5  # 1 caption (shared by both variants) + 2 x (fill + polish)
    polish = srv.chat_requests()[2]["body"]
    assert polish["messages"][1]["content"] == POLISH_INSTRUCTION.format(prompt=p0)
    assert a0 == rewrite(POLISH_INSTRUCTION.format(prompt=p0)) == p0  # the stand-in polishes to the same text
    again = NimPromptSource(nim(srv, VLM), nim(srv, LLM), polish=True).prompt("clip9", rgb, look0, 10.0).text
    assert again == a0  # same seed, same prompt
    shipped = pickle.loads(pickle.dumps(polished))  # as Ray ships it to an actor
    assert shipped.prompt("clip9", rgb, look0, 10.0).text == a0
    assert a1 != a0  # another variant, another prompt
    assert isinstance(polished, PromptSource)


def test_template_checks_and_custom_values(srv):
    with pytest.raises(ValueError, match=r"\['weather'\]"):
        NimPromptSource(nim(srv, VLM), nim(srv, LLM), template="{caption} in {weather}")
    with pytest.raises(ValueError, match="caption"):
        NimPromptSource(nim(srv, VLM), nim(srv, LLM), template="in {weather_condition}")
    srv.reset(style="nemotron")
    srv.echo_when = None
    src = NimPromptSource(nim(srv, VLM), nim(srv, LLM), template="Make a prompt.\n\nScene: {caption}\n"
                          "Weather: {weather_condition}", polish=False,
                          values={"weather_condition": {"rain": ["DRIZZLE"]}})
    srv.caption_text = "Two buses wait at the red light beside a kiosk"
    assert src.prompt("c", color_clip(), Look("rain", "day", "dry", 5, 0), 10.0).text == \
        "Two buses wait at the red light beside a kiosk. The weather is DRIZZLE."


def test_reasoning_off_directives():
    assert reasoning_off("nvidia/nvidia-nemotron-nano-9b-v2") == "/no_think"
    assert reasoning_off("nvidia/llama-3.3-nemotron-super-49b-v1.5") == "/no_think"
    assert reasoning_off("nvidia/llama-3.3-nemotron-super-49b-v1") == "detailed thinking off"
    assert reasoning_off("nvidia/cosmos-reason1-7b") is None  # its trace is prompted for and stripped
    assert reasoning_off("meta/llama-3.1-8b-instruct") is None


def test_refusal_rules():
    good = ("A photorealistic traffic camera video of a four-way junction at night in dense fog, wet asphalt "
            "reflecting the street lamps while two cars cross.")
    assert refusal(good, DEFAULT_FILL_TEMPLATE) is None
    assert refusal("", DEFAULT_FILL_TEMPLATE) == "empty answer"
    assert refusal(good + " <|im_end|>", DEFAULT_FILL_TEMPLATE) == "leftover tag '<|im_end|>'"
    assert refusal("<reasoning>hm</reasoning> " + good, DEFAULT_FILL_TEMPLATE) == "leftover tag '<reasoning>'"
    assert refusal("Two cars.", DEFAULT_FILL_TEMPLATE) == "too short (2 words < 8)"
    assert refusal(" ".join(["car"] * 301), DEFAULT_FILL_TEMPLATE) == "too long (301 words > 300)"
    look = Look("fog", "night", "wet", 3, 0)
    instruction = DEFAULT_FILL_TEMPLATE.format(caption="Two cars cross.", **condition_values(look, DEFAULT_VALUES))
    assert refusal("Sure. " + instruction, DEFAULT_FILL_TEMPLATE) == "echo of the instruction"
    first_sentence = DEFAULT_FILL_TEMPLATE.split(". ")[0] + "."  # only the instruction's first sentence
    assert refusal(first_sentence, DEFAULT_FILL_TEMPLATE) == "echo of the instruction"
    polish = POLISH_INSTRUCTION.format(prompt=good)
    assert refusal(good, POLISH_INSTRUCTION) is None  # a polish that returns the prompt is no echo
    assert refusal(extract_answer(polish), POLISH_INSTRUCTION) == "echo of the instruction"


def test_refused_answers_are_asked_again_with_the_next_seed(srv):
    srv.reset(style="nemotron")
    srv.echo_when = None
    srv.caption_text = "Two cars cross the junction while a cyclist waits at the kerb."
    srv.llm_faults = ["echo", "unclosed"]  # the fill's first two answers; the third is good
    look = Look("rain", "dusk", "wet", seed=40, variant=1)
    src = NimPromptSource(nim(srv, VLM), nim(srv, LLM), polish=False)
    out = src.prompt("c", color_clip(), look, 10.0)
    assert out.text == _fill(srv.caption_text, look)
    assert out.provenance["prompt_origin"] == "nim"
    assert out.provenance["prompt_refused"] == ["echo of the instruction", "empty answer"]
    fills = [r["body"] for r in srv.chat_requests()][1:]
    assert [b["seed"] for b in fills] == [40, 41, 42]
    assert [b["temperature"] for b in fills] == [0.0, RETRY_TEMPERATURE, RETRY_TEMPERATURE]
    assert [b["messages"][0]["content"] for b in fills] == ["/no_think"] + [f"/no_think\n{RETRY_REMINDER}"] * 2
    assert [kind for _, kind in srv.answers] == ["echo", "unclosed", "ok"]


def test_every_answer_refused_falls_back_to_the_template_prompt(srv, caplog):
    srv.reset(style="nemotron")
    srv.echo_when = lambda body: True  # the LLM only ever repeats the instruction
    srv.caption_text = "Two cars cross the junction while a cyclist waits at the kerb."
    look = Look("snow", "night", "wet", seed=8, variant=0)
    caplog.set_level(logging.WARNING, logger="sdg.augment.prompts")
    src = NimPromptSource(nim(srv, VLM), nim(srv, LLM), answer_retries=2)
    out = src.prompt("clipF", color_clip(), look, 10.0)
    assert out.text == TemplatePromptSource().text(look)
    assert out.provenance == {"prompt_origin": "template_fallback", "vlm_model": VLM, "llm_model": LLM,
                              "prompt_refused": ["echo of the instruction"] * 3}
    assert len(srv.chat_requests()) == 1 + 3  # caption + three fill attempts, no polish of nothing
    assert "clipF variant 0: every LLM answer was refused" in caplog.text


def test_refused_polish_keeps_the_filled_prompt(srv):
    srv.reset(style="nemotron")
    srv.echo_when = None
    srv.caption_text = "Two cars cross the junction while a cyclist waits at the kerb."
    srv.llm_faults = ["ok", "long", "tag", "empty"]  # fill fine, then every polish attempt refused
    look = Look("clear", "day", "dry", seed=3, variant=0)
    out = NimPromptSource(nim(srv, VLM), nim(srv, LLM), polish=True).prompt("c", color_clip(), look, 10.0)
    assert out.text == _fill(srv.caption_text, look)
    assert out.provenance["prompt_origin"] == "nim"
    assert out.provenance["polish_refused"] == ["too long (400 words > 300)", "leftover tag '<|im_end|>'",
                                                "empty answer"]


def test_the_only_served_model_is_used_and_said_once(caplog):
    llm_only = OpenAITestServer(models=(LLM,), style="nemotron").start()
    both = OpenAITestServer(models=(VLM, LLM)).start()
    try:
        caplog.set_level(logging.WARNING, logger="sdg.augment.nim")
        c = NimClient(llm_only.url, "acme/renamed-llm", setting="endpoints.llm_model", retries=0)
        v = c.check()
        assert v.ok and v.line() == (f"[ok  ] NIM {llm_only.url} (acme/renamed-llm): ready; model 'acme/renamed-llm' "
                                     f"not served; using '{LLM}', the only model it serves (set endpoints.llm_model: "
                                     f"{LLM} to say so)")
        assert c.resolve_model() == LLM == c.model and c.resolve_model() == LLM
        assert len([r for r in llm_only.requests if r["path"] == "/v1/models"]) == 2  # check + one resolution
        assert len([r for r in caplog.records if "the only model it serves" in r.getMessage()]) == 1
        c.chat([{"role": "user", "content": "hi"}])
        assert llm_only.chat_requests()[-1]["body"]["model"] == LLM
        several = NimClient(both.url, "acme/renamed-llm", setting="endpoints.llm_model", retries=0)
        v = several.check()
        assert not v.ok and v.line() == (f"[FAIL] NIM {both.url} (acme/renamed-llm): model 'acme/renamed-llm' not "
                                         f"served (serves {[VLM, LLM]}) — set endpoints.llm_model to one of them")
        with pytest.raises(NimError, match=r"not served .* set endpoints.llm_model to one of them"):
            several.resolve_model()
    finally:
        llm_only.close()
        both.close()


def _cfg(**over):
    data = {"name": "t", "cameras": [{"name": "cam"}], "scenarios": [{"id": "s1"}]}
    data.update(over)
    return parse_config(data)


def test_make_prompt_source(monkeypatch):
    for v in ("SDG_VLM_URL", "SDG_LLM_URL"):
        monkeypatch.delenv(v, raising=False)
    assert isinstance(make_prompt_source(_cfg()), TemplatePromptSource)
    src = make_prompt_source(_cfg(backends={"prompts": "nim"},
                                  endpoints={"vlm_url": "http://vlm:8000", "llm_url": "http://llm:8000/v1",
                                             "llm_model": "my/llm"}))
    assert isinstance(src, NimPromptSource)
    assert (src.vlm.url, src.vlm.model) == ("http://vlm:8000", VLM)
    assert (src.llm.url, src.llm.model) == ("http://llm:8000", "my/llm")
    with pytest.raises(ConfigError, match="SDG_VLM_URL"):
        make_prompt_source(_cfg(backends={"prompts": "nim"}, endpoints={"llm_url": "http://llm:8000"}))
    monkeypatch.setenv("SDG_VLM_URL", "http://env-vlm:1")
    monkeypatch.setenv("SDG_LLM_URL", "http://env-llm:2")
    src = make_prompt_source(_cfg(backends={"prompts": "nim"}))  # no endpoints section at all
    assert (src.vlm.url, src.llm.url) == ("http://env-vlm:1", "http://env-llm:2")
