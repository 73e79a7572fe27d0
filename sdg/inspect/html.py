"""The HTML report of `sdg inspect` (OUT_DIR/inspect/report.html): one self-contained page (inline CSS and SVG, no
script, no web fonts; its JPEGs next to it in inspect/img/). Sections, each a <section id=...>:

  overview   what the folder holds, the text summary
  run        the last run's per-stage summary (manifest.json `last_run.stages`)
  clips      per clip and video (simulator, variants): sample Set-of-Mark frames; per event the first and last frame
             of its Set-of-Mark video
  qa         Q&A examples per media (frame, video) and kind, with the frame or video strip they are about
  histograms classes, events, answers per template (kept vs generated, with the balance band)
  survival   marked objects lost per look, and the looks that were re-drawn
  baseline   the text-only baselines per kind against chance (± 10 points)
  blind      the blind mark-number policies per template

Every number a table shows is also in its cell's `data-value` (tables: `data-table`, rows: `data-row`, cells:
`data-col`), so a test can compare the page with reports/*.json."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from sdg.inspect.charts import PALETTE, Chart, Row, Series, counts_chart, pct, svg_bars
from sdg.inspect.samples import ClipSample, QAGroup
from sdg.som.baselines import z_score
from sdg.som.formats import LETTERS

SECTIONS = {"overview": "Overview", "run": "Run", "clips": "Clips and videos", "qa": "Q&A examples",
            "histograms": "Histograms", "survival": "Survival per look", "baseline": "Text-only baseline",
            "blind": "Blind mark policy"}
YES_NO_BAND = (0.45, 0.55)
LETTER_BAND = (0.20, 0.30)
NEAR_CHANCE = 0.10

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d232b;margin:0;
background:#f4f5f7}
main{max-width:1360px;margin:0 auto;padding:12px 20px 60px}
header{background:#1d2a3a;color:#fff;padding:16px 20px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d3de}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde1e6;padding:6px 20px;z-index:2}
nav a{margin-right:14px;color:#2e5c9a;text-decoration:none;font-weight:600}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:16px 0;padding:4px 18px 14px}
h2{font-size:19px;border-bottom:2px solid #e6e9ed;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0}
th,td{border:1px solid #dde1e6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#66707c}
.small{font-size:12px}
.bad{color:#b3261e;font-weight:600}
.ok{color:#246b2c}
figure{margin:0;display:inline-block;vertical-align:top}
figcaption{font-size:12px;color:#4b5561}
.frames img{width:360px;height:auto;display:block;border:1px solid #ccd}
.events img{width:184px;height:auto;display:block;border:1px solid #ccd}
.events td{padding:3px}
.events th:first-child{width:116px}
.pair{display:flex;gap:3px}
.cards{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:16px;margin-bottom:8px}
.qa{border:1px solid #e6e9ed;border-radius:4px;padding:8px}
.qa figure{display:block}
.qa img{width:100%;height:auto;border:1px solid #ccd}
.qa.video{display:grid;grid-template-columns:minmax(0,2.2fr) minmax(0,1fr);gap:14px;margin-bottom:12px}
.qa p{margin:6px 0}
.q{font-weight:600}
.badge{display:inline-block;background:#e8edf5;border-radius:3px;padding:0 6px;margin-right:4px;font-size:12px;
color:#2b3f5c}
ol.choices{margin:4px 0;padding-left:24px}
ol.choices li.correct{background:#dff0dc;font-weight:600}
.rationale{color:#3c4650;font-style:italic}
.multiples{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px;align-items:start}
.multiples.two{grid-template-columns:repeat(2,minmax(0,1fr))}
.multiple svg{max-width:100%;height:auto}
.multiple{border:1px solid #e6e9ed;border-radius:4px;padding:4px 6px}
.multiple h4{margin:0;font-size:13px}
svg.chart text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#1d232b}
svg.chart .tick{fill:#66707c;font-size:10px}
svg.chart .val{font-size:10px;fill:#39424c}
svg.chart .grid{stroke:#e3e6ea}
svg.chart .marker{stroke:#222;stroke-width:2}
svg.chart .ref{stroke:#b3261e;stroke-dasharray:4 3}
svg.chart .reftext{fill:#b3261e;font-size:10px}
svg.chart .note{fill:#66707c;font-size:10px}
pre{background:#f6f7f9;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
"""


@dataclass
class PageData:
    title: str
    root: str
    summary: str
    facts: list[tuple[str, str]]
    last_run: dict
    clips: list[ClipSample]
    qa_groups: list[QAGroup]
    qa_source: str  # what the examples are drawn from
    categories: dict
    events: dict  # distinct events per kind
    event_frames: dict  # frame rows with the event active, per kind
    answers: dict  # {"generated": {template: {answer: n}}, "kept": {...}}
    qa_report: dict | None
    survival: dict | None
    notes: list[str] = field(default_factory=list)


def render(d: PageData) -> str:
    body = [_overview(d), _run(d.last_run), _clips(d.clips), _qa(d), _histograms(d), _survival(d.survival),
            _baseline(d.qa_report), _blind(d.qa_report)]
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS.items())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(d.title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
            f'<header><h1>{escape(d.title)}</h1><p>{escape(d.root)}</p></header><nav>{nav}</nav>'
            f'<main>{"".join(body)}</main></body></html>\n')


def _section(key: str, inner: str, intro: str = "") -> str:
    intro = f'<p class="muted">{escape(intro)}</p>' if intro else ""
    return f'<section id="{key}"><h2>{escape(SECTIONS[key])}</h2>{intro}{inner}</section>'


def _cell(col: str, v, fmt=None) -> str:
    """A table cell; numbers right-aligned with their exact value in data-value."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        text = fmt(v) if fmt else (f"{v:g}" if isinstance(v, float) else str(v))
        return f'<td class="num" data-col="{col}" data-value="{escape(repr(v))}">{escape(text)}</td>'
    return f'<td data-col="{col}">{escape("" if v is None else str(v))}</td>'


def _table(table_id: str, cols: list[tuple[str, str]], rows: list[tuple[str, dict]], fmts: dict | None = None,
           first: str = "") -> str:
    """A table: cols = [(key, header)], rows = [(row key, {col key: value})]; numbers carry data-value."""
    fmts = fmts or {}
    head = f"<tr><th>{escape(first)}</th>" + "".join(f"<th>{escape(h)}</th>" for _, h in cols) + "</tr>"
    out = [f'<table data-table="{table_id}">{head}']
    for key, vals in rows:
        cells = [_cell(c, vals.get(c), fmts.get(c)) for c, _ in cols]
        out.append(f'<tr data-row="{escape(key)}"><th>{escape(key)}</th>{"".join(cells)}</tr>')
    return "".join(out) + "</table>"


# ------------------------------------------------------------------------------------------- sections
def _overview(d: PageData) -> str:
    facts = "".join(f'<tr data-row="{escape(k)}"><th>{escape(k)}</th><td data-col="value">{escape(v)}</td></tr>'
                    for k, v in d.facts)
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in d.notes)
    return _section("overview", f'<table data-table="facts">{facts}</table>{notes}'
                                f'<details><summary>Text summary (as printed by <code>sdg inspect</code>)</summary>'
                                f'<pre>{escape(d.summary)}</pre></details>')


def _run(last_run: dict) -> str:
    stages = last_run.get("stages") or []
    if not stages:
        return _section("run", '<p class="muted">manifest.json has no per-stage summary of the last run '
                               '(<code>last_run.stages</code>).</p>')
    cols = [("clips", "clips"), ("failed", "failed"), ("clips_per_s", "clips/s"), ("mean_s", "s/clip"),
            ("cpu_s_per_clip", "CPU-s/clip"), ("busy", "busy"), ("max_queue", "queue"), ("retries", "retries"),
            ("workers", "workers")]
    fmts = {"clips_per_s": lambda v: f"{v:.3f}", "mean_s": lambda v: f"{v:.2f}", "cpu_s_per_clip": lambda v: f"{v:.2f}",
            "busy": pct}
    table = _table("stages", cols, [(s["stage"], s) for s in stages], fmts, first="stage")
    slow = max(stages, key=lambda s: s.get("mean_s", 0) / max(1, s.get("workers", 1)))
    head = (f"{len(last_run.get('committed') or [])} clip(s) committed, {len(last_run.get('skipped') or [])} "
            f"skipped, {len(last_run.get('failed') or {})} failed in {last_run.get('seconds', 0):g} s. "
            f"Busy: the stage's workers' busy time over (workers × its active span); queue: the most clips "
            f"finished by the previous stage and not yet started here. Slowest per worker: {slow['stage']}.")
    fails = "".join(f'<p class="bad">{escape(k)}: {escape(str(v))}</p>' for k, v in (last_run.get("failed") or {})
                    .items())
    return _section("run", table + fails, head)


def _img(cell, clip: str, video: str, event: str = "") -> str:
    """An <img> of a clip's video frame, saying in data-* which clip, video (sim, v<k>), event and frame it shows."""
    ev = f' data-event="{escape(event)}"' if event else ""
    return (f'<img src="{escape(cell.src)}" alt="{escape(clip)} {escape(video)} {escape(event)} '
            f'{escape(cell.caption)}" title="{escape(cell.caption)}" data-clip="{escape(clip)}" '
            f'data-video="{escape(video)}"{ev} data-frame="{escape(cell.frame)}">')


def _clips(clips: list[ClipSample]) -> str:
    if not clips:
        return _section("clips", '<p class="muted">no frame rows.</p>')
    out = []
    for c in clips:
        out.append(f'<h3 id="clip-{escape(c.clip_id)}">{escape(c.clip_id)} <span class="muted small">'
                   f'split {escape(c.split)}</span></h3><table class="frames">')
        for line in c.videos:
            cells = "".join(f'<td><figure>{_img(cell, c.clip_id, line.name)}<figcaption>{escape(cell.caption)}'
                            f'</figcaption></figure></td>' for cell in line.cells) or '<td class="muted">no video</td>'
            lost = f'<br><span class="small muted">{escape(line.lost)}</span>' if line.lost else ""
            out.append(f'<tr><th>{escape(line.name)}<br><span class="small muted">{escape(line.look)}</span>{lost}'
                       f'</th>{cells}</tr>')
        out.append("</table>")
        if c.events:
            names = sorted({n for e in c.events for n in e.cells}, key=lambda n: (n != "sim", n))
            head = "".join(f"<th>{escape(n)}: first · last frame</th>" for n in names)
            out.append(f'<table class="events"><tr><th>event</th>{head}</tr>')
            for e in c.events:
                cells = []
                for n in names:
                    pair = "".join(f'<figure><a href="{escape(x.src)}">{_img(x, c.clip_id, n, e.event_id)}</a>'
                                   f'</figure>' for x in e.cells.get(n, []))
                    cells.append(f'<td><div class="pair">{pair}</div></td>' if pair else '<td class="muted">—</td>')
                marks = ", ".join(str(m) for m in e.marks)
                out.append(f'<tr data-row="{escape(e.event_id)}"><th>{escape(e.event_id)}<br><span class="small '
                           f'muted">{escape(e.kind)} · marks {escape(marks)}<br>{escape(e.span)}</span></th>'
                           f'{"".join(cells)}</tr>')
            out.append("</table>")
    intro = ("Set-of-Mark frames of the simulator's video (sim, decoded from its mp4) and of each augmented "
             "variant at the same frames (first, busiest, last); below, per event, the first and last frame of its "
             "Set-of-Mark video, where only the event's actors are marked.")
    return _section("clips", "".join(out), intro)


def _qa_example(e) -> str:
    q = e.qa
    badges = "".join(f'<span class="badge">{escape(str(q.get(k)))}</span>'
                     for k in ("template", "format", "level", "split") if q.get(k))
    if q.get("choices"):
        items = "".join(f'<li{" class=correct" if LETTERS[i] == q["answer"] else ""}>{escape(c)}</li>'
                        for i, c in enumerate(q["choices"]))
        choices = f'<ol class="choices" type="A">{items}</ol>'
    else:
        choices = ""
    rationale = f'<p class="rationale">{escape(q["rationale"])}</p>' if q.get("rationale") else ""
    media = "video" if int(q.get("frame_index", 0)) < 0 else "frame"
    video = "sim" if int(q["variant"]) < 0 else f"v{q['variant']}"
    shows = (f'data-clip="{escape(q["clip_id"])}" data-video="{video}" data-event="{escape(e.event or "")}" '
             f'data-frame="{"strip" if media == "video" else q["frame_index"]}"')
    return (f'<div class="qa {media}" data-qa="{escape(q.get("id", ""))}"><figure><img src="{escape(e.src)}" '
            f'alt="{escape(e.caption)}" {shows}><figcaption>{escape(e.caption)}</figcaption></figure>'
            f'<div>{badges}<p class="q">{escape(q["question"])}</p>{choices}'
            f'<p>Answer: <b>{escape(str(q["answer"]))}</b></p>{rationale}</div></div>')


def _qa(d: PageData) -> str:
    if not d.qa_groups:
        return _section("qa", '<p class="muted">no questions.</p>')
    out = []
    for g in d.qa_groups:
        out.append(f'<h3 id="qa-{g.media}-{escape(g.kind)}">{g.media} · {escape(g.kind)} '
                   f'<span class="muted small">{g.total} question(s), {g.templates} template(s)</span></h3>')
        examples = "".join(_qa_example(e) for e in g.examples)
        out.append(f'<div class="cards">{examples}</div>' if g.media == "frame" else examples)
    return _section("qa", "".join(out), d.qa_source)


def _histograms(d: PageData) -> str:
    out = ['<h3>Classes</h3><p class="muted small">objects per category over every frame row (all variants)</p>',
           counts_chart(d.categories, "chart-classes")]
    out += ['<h3>Events</h3><p class="muted small">events per kind (distinct per clip, hard-negative pairs '
            'included) and frame rows where an event of the kind is active</p><div class="multiples two">',
            f'<div class="multiple"><h4>events</h4>{counts_chart(d.events, "chart-events", width=420)}</div>',
            f'<div class="multiple"><h4>frame rows with the event active</h4>'
            f'{counts_chart(d.event_frames, "chart-event-frames", PALETTE[1], width=420)}</div></div>']
    out.append("<h3>Answers per template</h3>")
    gen, kept = d.answers.get("generated") or {}, d.answers.get("kept") or {}
    if kept:
        out.append('<p class="muted small">share of each answer among the kept (balanced, exported) questions and '
                   'among all generated ones; the green band is the balance target (yes/no 45–55 %, letters '
                   '20–30 %). At most 8 answers are drawn per template (the rest summed as "other").</p>')
    else:
        out.append('<p class="muted small">share of each answer among the generated questions (no exports: '
                   'nothing balanced yet).</p>')
    out.append('<div class="multiples">')
    for t in sorted(set(gen) | set(kept)):
        out.append(_answer_chart(t, gen.get(t) or {}, kept.get(t) or {}))
    out.append("</div>")
    return _section("histograms", "".join(out))


def _answer_chart(template: str, gen: dict, kept: dict) -> str:
    main = kept or gen
    answers = sorted(set(gen) | set(kept), key=lambda a: (-main.get(a, 0), -gen.get(a, 0), a))
    ng, nk = sum(gen.values()), sum(kept.values())
    if len(answers) > 8:
        head, rest = answers[:7], answers[7:]
        gen = {**{a: gen.get(a, 0) for a in head}, "other": sum(gen.get(a, 0) for a in rest)}
        kept = {**{a: kept.get(a, 0) for a in head}, "other": sum(kept.get(a, 0) for a in rest)}
        answers = head + ["other"]
    letters = set(answers) <= set(LETTERS) and len(answers) > 1
    yes_no = set(answers) <= {"yes", "no", "Yes", "No"} and len(answers) > 1
    band = YES_NO_BAND if yes_no else LETTER_BAND if letters else None
    answers = sorted(answers, key=_answer_order)
    series = ([Series("kept", PALETTE[0], pct)] if nk else []) + [Series("generated", "#a9bcd6", pct)]
    rows = [Row(a, ([kept.get(a, 0) / nk] if nk else []) + [gen.get(a, 0) / ng if ng else 0.0], band=band)
            for a in answers]
    chart = Chart(rows, series, chart_id=f"answers-{template}", percent=True, width=300, label_w=84, bar_h=9,
                  band_label="target" if band else "")
    return (f'<div class="multiple" data-template="{escape(template)}"><h4>{escape(template)} '
            f'<span class="muted small">kept {nk} / generated {ng}</span></h4>{svg_bars(chart)}</div>')


def _answer_order(a: str):
    """Numbers by value, yes before no, then by text; "other" last."""
    try:
        return (1, float(a), "")
    except ValueError:
        return (3, 0.0, "") if a == "other" else (2, 0.0, {"yes": "0", "no": "1"}.get(a.lower(), a))


def _survival(s: dict | None) -> str:
    if not s:
        return _section("survival", '<p class="muted">no reports/survival.json (the run wrote no exports).</p>')
    per = s.get("per_look") or {}
    thr = s.get("max_lost_fraction")
    redrawn = s.get("redrawn") or []
    rows = [Row(k, [v["lost_fraction"], None], note=f"{v['lost']} of {v['scored']}") for k, v in per.items()]
    rows += [Row(f"{r['look']} ({r['clip_id']} v{r['variant']})", [None, r["lost_fraction"]],
                 note=f"→ {r['redrawn_as']}") for r in redrawn]
    refs = [(thr, f"re-draw above {pct(thr)}")] if thr is not None else []
    vmax = max([0.5] + [math.ceil(10 * v) / 10 for r in rows for v in r.values if v is not None])
    chart = svg_bars(Chart(rows, [Series("kept look", PALETTE[4], pct), Series("drawn first, re-drawn", "#9aa3ad",
                                                                                pct)],
                           chart_id="chart-survival", percent=True, vmax=vmax, refs=refs, width=820, label_w=300,
                           note_w=130, compact=True))
    table = _table("survival", [("scored", "marked (object, frame)"), ("lost", "lost"),
                                ("lost_fraction", "lost fraction")], list(per.items()),
                   {"lost_fraction": lambda v: f"{100 * v:.1f} %"}, first="look")
    if redrawn:
        rd = _table("redrawn", [("clip_id", "clip"), ("variant", "variant"), ("look", "look drawn first"),
                                ("lost_fraction", "lost"), ("redrawn_as", "re-drawn as")],
                    [(str(i), r) for i, r in enumerate(redrawn, start=1)],
                    {"lost_fraction": lambda v: f"{100 * v:.1f} %"}, first="#")
        rd = f"<h3>Re-draws ({len(redrawn)})</h3>{rd}"
    else:
        rd = '<h3>Re-draws (0)</h3><p class="muted">no look lost more than the threshold.</p>'
    intro = (f"Fraction of marked objects whose survival score (how well the augmented frame still shows them) is "
             f"below {s.get('threshold')}, per look kept in the dataset. A variant whose look loses more than "
             f"{pct(thr) if thr is not None else '?'} is re-drawn with a milder setting.")
    return _section("survival", chart + table + rd, intro)


def _gap_note(v: dict) -> str:
    """' · +14 pts, z=+1.9 (noise)' when a kind's farthest baseline is more than 10 points from chance: the gap and
    how many standard errors of its independent facts that is ('noise' under 2)."""
    worst_key = max(("majority", "bow", "lower_mark"), key=lambda m: abs(v.get(m, v["chance"]) - v["chance"]))
    p = 0.5 if worst_key == "lower_mark" else v["chance"]
    acc = v.get(worst_key, p)
    gap = acc - p
    if abs(gap) <= NEAR_CHANCE + 1e-9:
        return ""
    n = v.get("lower_mark_n" if worst_key == "lower_mark" else "n_independent", v.get("n_unique")) or 1
    z = z_score(acc, p, n)
    return f" · {gap * 100:+.0f} pts, z={z:+.1f}" + (" (noise)" if abs(z) < 2 else "")


def _baseline(r: dict | None) -> str:
    if not r or "text_only_baseline" not in r:
        return _section("baseline", '<p class="muted">no reports/qa.json (the run wrote no exports).</p>')
    b = r["text_only_baseline"]
    kinds = b.get("by_kind") or {}
    rows = []
    for k, v in kinds.items():
        note = f"n={v['n']}" + _gap_note(v)
        rows.append(Row(k, [v.get("majority"), v.get("bow"), v.get("lower_mark")], marker=v["chance"],
                        band=(max(0.0, v["chance"] - NEAR_CHANCE), min(1.0, v["chance"] + NEAR_CHANCE)), note=note))
    chart = svg_bars(Chart(rows, [Series("majority", PALETTE[0], pct), Series("bag of words", PALETTE[1], pct),
                                  Series("lower mark", PALETTE[3], pct)], chart_id="chart-baseline", percent=True,
                           width=760, label_w=110, note_w=120, bar_h=10, band_label="chance ± 10 points",
                           marker_label="chance"))
    cols = [("n", "held-out n"), ("n_unique", "distinct"), ("n_independent", "facts"), ("chance", "chance"),
            ("majority", "majority"), ("bow", "bag of words"), ("lower_mark", "lower mark"),
            ("lower_mark_n", "lower-mark n")]
    f = {c: pct for c in ("chance", "majority", "bow", "lower_mark")}
    table = _table("baseline", cols, list(kinds.items()), f, first="kind")
    by_t = _table("baseline-templates", cols, list((b.get("by_template") or {}).items()), f, first="template")
    intro = (f"A model that never looks at the image or video: the train split's majority answer per template, and a "
             f"bag-of-words naive Bayes per template, trained on train ({b.get('train')} questions) and scored on "
             f"validation + test ({b.get('held_out')}); 'lower mark' answers by mark number alone. Chance: a blind "
             f"guesser drawing from the train split's answers (1/k for yes/no, letters and other fixed answer sets; "
             f"near 0 for open answers such as times). Within 10 points of chance, or within sampling noise of the "
             f"independent facts asked (|z| < 2), means the answers cannot be learned from the text.")
    return _section("baseline", chart + table + f"<details><summary>Per template</summary>{by_t}</details>", intro)


def _blind(r: dict | None) -> str:
    if not r or "blind_mark_policies" not in r:
        return _section("blind", '<p class="muted">no reports/qa.json (the run wrote no exports).</p>')
    p = r["blind_mark_policies"]
    if not p:
        return _section("blind", '<p class="muted">no kept question names two marks.</p>')
    rows = [Row(t, [v["accuracy"]], marker=0.5, band=(0.5 - NEAR_CHANCE, 0.5 + NEAR_CHANCE), note=f"n={v['n']}")
            for t, v in p.items()]
    chart = svg_bars(Chart(rows, [Series("accuracy", PALETTE[3], pct)], chart_id="chart-blind", percent=True,
                           width=640, label_w=150, note_w=60, band_label="chance ± 10 points",
                           marker_label="chance (50 %)"))
    table = _table("blind", [("n", "questions"), ("accuracy", "accuracy")], list(p.items()), {"accuracy": pct},
                   first="template")
    intro = ("Marks are numbered in a seeded random order per clip, so a mark number should say nothing: the policy "
             "\"the lower mark is on the left / closer / faster / has the right of way\" over every kept question "
             "naming two marks.")
    return _section("blind", chart + table, intro)
