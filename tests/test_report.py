"""The HTML report of `sdg inspect` (OUT_DIR/inspect/report.html) on a small job with exports: every section, every
image on disk and decodable, nothing fetched from outside, the numbers of its tables and charts equal to
reports/*.json, the manifest's stage summary and counts recomputed from the Parquet columns, the sampled frames and
the event videos' first/last frames equal to the shards' Set-of-Mark images and the exported mp4s, the Q&A examples
equal to the kept records; the same report without exports; and (when Debian's `chromium` is installed) the page as
headless Chromium renders it: every image decoded, full-page screenshots.

SDG_REPORT_DIR=<an output folder> checks that folder instead (e.g. out/demo: `make report-check`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import chromium
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from sdg.augment.video import read_mp4
from sdg.codec import decode_image
from sdg.config import parse_config
from sdg.export.video import som_video_path
from sdg.inspect import inspect_output
from sdg.inspect.html import SECTIONS
from sdg.run import run_job

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def report_job() -> dict:
    """Two built-in scenarios (a collision with its red-light runner, a wrong-way driver: three event kinds and
    hard-negative pairs), 320x180 at 4 fps for 3 s, two variants, the LLaVA and video exports (Q&A, reports, mp4s)."""
    corner = {"name": "corner", "width": 320, "height": 180, "fov": 90.0, "location": [-13.0, -13.0, 9.5],
              "rotation": [0.0, -26.0, 45.0]}
    common = {"duration": 3.0, "fps": 4.0, "vehicles": 8, "pedestrians": 6, "cameras": ["corner"]}
    return {
        "name": "report", "seed": 5, "cameras": [corner],
        "scenarios": [{"id": "col", "scenario": "collision", "seed": 1, **common},
                      {"id": "ww", "scenario": "wrong_way", "seed": 2, **common}],
        "augmentation": {"variants": 2},
        "splits": {"train": 0.5, "validation": 0.0, "test": 0.5},
        "resources": {"num_cpus": 2, "simulator_cpus": 0.5, "stage_cpus": 0.25},
        "output": {"exports": ["llava", "video"]},
    }


# ------------------------------------------------------------------------------------------- reading the page
class Page(HTMLParser):
    """What a test needs of the report: sections, images, links, table cells, chart bars, Q&A examples."""

    def __init__(self, html: str):
        super().__init__()
        self.sections: list[str] = []
        self.imgs: list[dict] = []
        self.links: list[str] = []
        self.tags: Counter = Counter()
        self.tables: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
        self.bars: dict[str, list[dict]] = defaultdict(list)
        self.qa: dict[str, dict] = {}
        self.headings: set[str] = set()
        self._table = self._row = self._chart = self._qa = None
        self._text_to: list | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag in ("h3", "h2") and a.get("id"):
            self.headings.add(a["id"])
        if tag == "img":
            self.imgs.append(a)
            if self._qa is not None:
                self._qa["img"] = a
        for k in ("href", "src"):
            if k in a and tag != "img":
                self.links.append(a[k])
        if tag == "table":
            self._table = a.get("data-table")
        if tag == "tr":
            self._row = a.get("data-row")
        if tag == "td" and self._table and self._row is not None and "data-col" in a:
            self.tables[self._table][self._row][a["data-col"]] = a.get("data-value", "")
        if tag == "svg":
            self._chart = a.get("id")
        if tag == "rect" and "data-value" in a:
            self.bars[self._chart].append({"series": a["data-series"], "label": a["data-label"],
                                           "value": float(a["data-value"])})
        if tag == "div" and "data-qa" in a:
            self._qa = self.qa[a["data-qa"]] = {"choices": [], "correct": None}
        if self._qa is not None:
            if tag == "p" and a.get("class") == "q":
                self._text_to = [self._qa, "question"]
            elif tag == "b":
                self._text_to = [self._qa, "answer"]
            elif tag == "li":
                self._qa["choices"].append("")
                if a.get("class") == "correct":
                    self._qa["correct"] = len(self._qa["choices"]) - 1
                self._text_to = ["choice"]

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "svg":
            self._chart = None
        if tag in ("p", "b", "li"):
            self._text_to = None

    def handle_data(self, data):
        if self._text_to is None:
            return
        if self._text_to[0] == "choice":
            self._qa["choices"][-1] += data
        else:
            d, k = self._text_to
            d[k] = d.get(k, "") + data


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    given = os.environ.get("SDG_REPORT_DIR")
    if given:
        return Path(given).resolve()  # `make report-check` gives out/demo; sdg inspect prints the path it resolved
    out = tmp_path_factory.mktemp("report")
    res = run_job(parse_config(report_job()), out, executor="local")
    assert res.ok, res.failed
    return out


@pytest.fixture(scope="module")
def cli_run(out_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sdg.cli", "inspect", str(out_dir)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=900)


@pytest.fixture(scope="module")
def page(out_dir, cli_run) -> Page:
    assert cli_run.returncode == 0, cli_run.stderr
    return Page((out_dir / "inspect" / "report.html").read_text())


def _json(out: Path, rel: str):
    return json.loads((out / rel).read_text())


def _video_rows(out: Path, columns=None) -> list[dict]:
    rows = []
    for p in sorted((out / "videos").glob("*.parquet")):
        rows += pq.read_table(p, columns=columns).to_pylist()
    return rows


def _img(out: Path, src: str) -> np.ndarray:
    im = cv2.imread(str(out / "inspect" / src))
    assert im is not None, src
    return im[..., ::-1]


def _mad(thumb: np.ndarray, full: np.ndarray) -> float:
    """Mean absolute difference of a thumbnail and a full-size frame brought to the thumbnail's size."""
    small = cv2.resize(full, (thumb.shape[1], thumb.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.abs(thumb.astype(np.float32) - small.astype(np.float32)).mean())


def _assert_shows(thumb: np.ndarray, frames, i: int, what: str) -> None:
    """The thumbnail (a JPEG) is frame i of the video: close to it, and no other frame is closer (frames of a still
    scene may tie)."""
    mads = [_mad(thumb, f) for f in frames]
    assert mads[i] < 5 and mads[i] <= min(mads) + 0.02, f"{what}: frame {i}, distances {np.round(mads, 2)}"


# ------------------------------------------------------------------------------------------- the page
def test_every_section_is_there_and_every_image_is_on_disk(out_dir, cli_run, page):
    assert f"wrote {out_dir / 'inspect' / 'report.html'}" in cli_run.stdout
    assert page.sections == list(SECTIONS)
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["iframe"] == 0
    html = (out_dir / "inspect" / "report.html").read_text()
    assert "@import" not in html and "url(" not in html  # no stylesheet, font or image fetched by CSS
    assert all(u.startswith("#") or u.startswith("img/") for u in page.links), page.links
    assert len(page.imgs) >= 20
    for a in page.imgs:
        src = a["src"]
        assert src.startswith("img/") and (out_dir / "inspect" / src).is_file(), src
        im = _img(out_dir, src)
        assert im.shape[0] > 50 and im.shape[1] > 100 and im.std() > 5, src
    # the PNG sheets and the text summary are still there
    assert "categories:" in cli_run.stdout and "videos:" in cli_run.stdout
    for name in ("contact_sheet", "modalities", "looks", "builtin_looks"):
        assert (out_dir / "inspect" / f"{name}.png").is_file()
    assert not list(out_dir.glob(".inspect-*"))  # the staging folder is gone
    shown = {a["src"] for a in page.imgs}
    assert {f"img/{p.name}" for p in (out_dir / "inspect" / "img").iterdir()} == shown  # nothing else in img/


def test_tables_and_charts_equal_the_reports(out_dir, page):
    qa = _json(out_dir, "reports/qa.json")
    base = qa["text_only_baseline"]
    for group, table in (("by_kind", "baseline"), ("by_template", "baseline-templates")):
        assert set(page.tables[table]) == set(base[group])
        for name, vals in base[group].items():
            for col in ("n", "n_unique", "chance", "majority", "bow", "lower_mark", "lower_mark_n"):
                if col in vals:
                    assert float(page.tables[table][name][col]) == pytest.approx(vals[col]), (name, col)
    chart = {(b["label"], b["series"]): b["value"] for b in page.bars["chart-baseline"]}
    for kind, vals in base["by_kind"].items():
        assert chart[(kind, "majority")] == pytest.approx(vals["majority"])
        assert chart[(kind, "bag of words")] == pytest.approx(vals["bow"])
    blind = qa["blind_mark_policies"]
    assert blind, "the job asks questions naming two marks"
    assert {t: (float(v["n"]), float(v["accuracy"])) for t, v in page.tables["blind"].items()} == \
        {t: (float(v["n"]), float(v["accuracy"])) for t, v in blind.items()}
    # answers per template: the kept and generated shares drawn per answer
    answers = qa["answers_per_template"]
    assert set(answers["generated"]) <= {c[len("answers-"):] for c in page.bars if c.startswith("answers-")}
    for which, series in (("kept", "kept"), ("generated", "generated")):
        for t, hist in answers[which].items():
            total = sum(hist.values())
            if not total:
                continue
            drawn = {b["label"]: b["value"] for b in page.bars[f"answers-{t}"] if b["series"] == series}
            if len(set(answers["generated"][t]) | set(answers["kept"].get(t, {}))) <= 8:
                assert drawn == pytest.approx({a: n / total for a, n in hist.items()} | {
                    a: 0.0 for a in drawn if a not in hist}), (t, which)
            assert sum(drawn.values()) == pytest.approx(1.0), (t, which)
    # survival per look and the re-draws
    surv = _json(out_dir, "reports/survival.json")
    assert {k: (int(v["scored"]), int(v["lost"]), float(v["lost_fraction"]))
            for k, v in page.tables["survival"].items()} == \
        {k: (v["scored"], v["lost"], v["lost_fraction"]) for k, v in surv["per_look"].items()}
    assert len(page.tables.get("redrawn", {})) == len(surv["redrawn"])
    kept_bars = {b["label"]: b["value"] for b in page.bars["chart-survival"] if b["series"] == "kept look"}
    assert kept_bars == {k: v["lost_fraction"] for k, v in surv["per_look"].items()}


def test_run_summary_and_counts_equal_the_manifest_and_the_columns(out_dir, page):
    stages = _json(out_dir, "manifest.json")["last_run"]["stages"]
    assert list(page.tables["stages"]) == [s["stage"] for s in stages]
    for s in stages:
        for col in ("clips", "failed", "clips_per_s", "mean_s", "cpu_s_per_clip", "busy", "max_queue", "retries"):
            assert float(page.tables["stages"][s["stage"]][col]) == pytest.approx(s[col]), (s["stage"], col)
    # classes and events, recounted from the Parquet columns
    categories, active = Counter(), Counter()
    for p in sorted((out_dir / "shards").glob("*.parquet")):
        for r in pq.read_table(p, columns=["objects", "events"]).to_pylist():
            categories.update(o["category"] for o in r["objects"])
            active.update(e["kind"] for e in r["events"] if e["active"])
    assert {b["label"]: b["value"] for b in page.bars["chart-classes"]} == dict(categories)
    assert {b["label"]: b["value"] for b in page.bars["chart-event-frames"]} == dict(active)
    events = {(r["clip_id"], e["event_id"]): e["kind"] for r in _video_rows(out_dir, ["clip_id", "events"])
              for e in r["events"]}
    assert {b["label"]: b["value"] for b in page.bars["chart-events"]} == dict(Counter(events.values()))


def test_sample_frames_and_event_video_first_last_frames(out_dir, page):
    by_video = defaultdict(list)
    for a in page.imgs:
        if a.get("data-clip") and a.get("data-frame") not in (None, "strip"):
            by_video[(a["data-clip"], a["data-video"], a.get("data-event"))].append(a)
    vrows = _video_rows(out_dir, ["clip_id", "variant", "events", "event_videos", "frame_indices", "width",
                                  "height"])
    manifest = _json(out_dir, "manifest.json")
    for clip in manifest["clips"]:
        assert f"clip-{clip}" in page.headings
        shard = pq.read_table(out_dir / manifest["clips"][clip]["shard"],
                              columns=["variant", "frame_index", "som_image"]).to_pylist()
        variants = sorted({r["variant"] for r in shard})
        for v in variants:  # each variant's sample frames are the shard's Set-of-Mark images
            imgs = by_video[(clip, f"v{v}", None)]
            assert len(imgs) == 3, (clip, v)
            rows = sorted((r for r in shard if r["variant"] == v), key=lambda r: r["frame_index"])
            frames = [decode_image(r["som_image"]) for r in rows]
            for a in imgs:
                i = next(k for k, r in enumerate(rows) if r["frame_index"] == int(a["data-frame"]))
                _assert_shows(_img(out_dir, a["src"]), frames, i, a["src"])
        for r in (r for r in vrows if r["clip_id"] == clip):
            name = "sim" if r["variant"] < 0 else f"v{r['variant']}"
            if r["variant"] < 0:  # the simulator's sample frames come from its Set-of-Mark mp4
                frames = read_mp4(out_dir / "exports" / som_video_path(clip, -1), size=(r["height"], r["width"]))
                assert len(by_video[(clip, "sim", None)]) == 3
                for a in by_video[(clip, "sim", None)]:
                    i = r["frame_indices"].index(int(a["data-frame"]))
                    _assert_shows(_img(out_dir, a["src"]), frames, i, a["src"])
            assert {e["event_id"] for e in r["event_videos"]} == {e["event_id"] for e in r["events"]}
            for e in r["events"]:
                frames = read_mp4(out_dir / "exports" / som_video_path(clip, r["variant"], e["event_id"]),
                                  size=(r["height"], r["width"]))
                shown = {a["data-frame"]: _img(out_dir, a["src"]) for a in by_video[(clip, name, e["event_id"])]}
                assert set(shown) == {"first", "last"}, (clip, name, e["event_id"])
                _assert_shows(shown["first"], frames, 0, f"{clip} {name} {e['event_id']} first")
                _assert_shows(shown["last"], frames, len(frames) - 1, f"{clip} {name} {e['event_id']} last")


def test_qa_examples_per_kind_are_the_kept_records(out_dir, page):
    kept = {}
    for p in sorted((out_dir / "exports" / "qa").glob("*.jsonl")):
        kept.update({q["id"]: q for q in map(json.loads, p.read_text().splitlines())})
    groups = {("video" if q["frame_index"] < 0 else "frame", q["kind"]) for q in kept.values()}
    assert {"video", "frame"} == {m for m, _ in groups}
    for media, kind in groups:
        assert f"qa-{media}-{kind}" in page.headings
    assert len(page.qa) >= len(groups)
    seen = set()
    for qid, shown in page.qa.items():
        q = kept[qid]
        seen.add(("video" if q["frame_index"] < 0 else "frame", q["kind"]))
        assert shown["question"] == q["question"] and shown["answer"] == q["answer"]
        assert shown["choices"] == q["choices"]
        if q["choices"]:
            assert "ABCD"[shown["correct"]] == q["answer"]
        img = shown["img"]
        assert img["data-clip"] == q["clip_id"]
        if q["frame_index"] >= 0:
            assert int(img["data-frame"]) == q["frame_index"]
        else:  # the strip is of the video the question is about
            assert q["path"].endswith(f"_events_{img['data-event']}_som.mp4" if img["data-event"] else
                                      f"{img['data-video']}_som.mp4")
    assert seen == groups


def test_report_without_exports_reads_the_video_rows(out_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(out_dir / "manifest.json", bare)
    shutil.copytree(out_dir / "shards", bare / "shards")
    shutil.copytree(out_dir / "videos", bare / "videos")
    (bare / "inspect" / "img").mkdir(parents=True)
    (bare / "inspect" / "img" / "earlier.jpg").write_bytes(b"a picture of an earlier report")
    report = inspect_output(bare, sample=3)
    assert not (bare / "inspect" / "img" / "earlier.jpg").exists()
    assert report.html == str(bare / "inspect" / "report.html")
    html = (bare / "inspect" / "report.html").read_text()
    p = Page(html)
    assert p.sections == list(SECTIONS)
    assert "no reports/qa.json" in html and "no reports/survival.json" in html
    n_events = sum(len(r["events"]) for r in _video_rows(out_dir, ["events"]))
    assert sum(1 for a in p.imgs if a.get("data-event") and a.get("data-frame") in ("first", "last")) == 2 * n_events
    assert p.qa and all(a["src"].startswith("img/") and (bare / "inspect" / a["src"]).is_file() for a in p.imgs)
    # the answers drawn are those generated (nothing balanced yet)
    assert all(b["series"] == "generated" for c, bars in p.bars.items() if c.startswith("answers-") for b in bars)


@pytest.mark.skipif(chromium.find() is None and not os.environ.get("SDG_REQUIRE_CHROMIUM"),
                    reason="Debian's chromium is not installed (apt-get install -y chromium; `make report-check` "
                           "installs it)")
def test_chromium_renders_every_image_and_takes_full_page_screenshots(out_dir, page):
    html = out_dir / "inspect" / "report.html"
    facts = chromium.page_facts(html)
    assert facts["sections"] == list(SECTIONS)
    assert facts["broken"] == [] and facts["outside"] == []
    assert facts["images"] == len(page.imgs)
    assert facts["width"] <= chromium.WIDTH  # nothing wider than the window
    shots = chromium.screenshots(html, out_dir / "inspect" / "screenshot", facts["height"])
    heights = []
    for s in shots:
        im = cv2.imread(str(s))
        assert im is not None and im.shape[1] == chromium.WIDTH
        heights.append(im.shape[0])
        assert im.std() > 10  # a page, not a blank window
    assert sum(heights) == facts["height"]
    assert not list(html.parent.glob(".report.*.html"))  # the probe and shot copies are gone
    # the probe does see a missing image and an outside address
    bad = html.with_name("broken.html")
    src = page.imgs[0]["src"]
    bad.write_text(html.read_text().replace(f'src="{src}"', 'src="img/missing.jpg"', 1)
                   .replace("</main>", '<a href="https://example.com/x">x</a></main>'))
    try:
        seen = chromium.page_facts(bad)
    finally:
        bad.unlink()
    assert seen["broken"] == ["img/missing.jpg"] and seen["outside"] == ["https://example.com/x"]
