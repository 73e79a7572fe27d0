"""`sdg inspect OUT`: what an output holds, for a person to look at. OUT is a local folder or a URI
(``s3://bucket/run1``): everything is read through its sdg.storage Location.

Publishes to OUT/inspect/:
  report.html        the HTML report (sdg.inspect.html): sample Set-of-Mark frames per clip and video, event videos'
                     first and last frames, Q&A examples per kind, histograms of classes / events / answers per
                     template, survival per look, the text-only baselines and blind mark policies against chance,
                     the last run's per-stage summary; its images in img/
  contact_sheet.png  modalities.png  looks.png  builtin_looks.png   the PNG sheets (sdg.inspect.sheets)
and returns the text summary (counts per column and category) the command prints.

Everything is drawn in a local staging folder first (inside a local OUT, so publishing is a rename), then published
file by file, each atomically: the sheets, the report's images, report.html last (a reader never sees a page
naming a missing image); then the images of an earlier report that this one no longer shows are removed.

Modules: folder (every read of the output), counts (one pass over the light columns), sheets (PNG sheets),
samples (the report's pictures), charts (inline SVG), html (page assembly).
"""
from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sdg.inspect.counts import Inventory, summary_text, take_inventory
from sdg.inspect.folder import OutputFolder

__all__ = ["Report", "inspect_output"]

TARGET = "inspect"


@dataclass
class Report:
    text: str
    counts: dict
    images: list[str] = field(default_factory=list)  # paths or URIs of the PNG sheets written
    html: str | None = None  # path or URI of the HTML report


def inspect_output(out, sample: int = 6, html: bool = True) -> Report:
    """Count, draw the sheets and (html=True) the HTML report of an output (local folder or URI), published to
    OUT/inspect/."""
    folder = OutputFolder(out)
    loc = folder.location
    inv = take_inventory(folder)
    report = Report(text=summary_text(folder, inv), counts=inv.counts)
    parent = loc.local_path() if loc.local else None  # local: stage on the same filesystem, publishing is a rename
    if parent is not None:
        for old in parent.glob(".inspect-*.tmp"):  # left by an inspect that was killed
            shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".inspect-", suffix=".tmp", dir=parent) as tmp:
        stage = Path(tmp)
        if inv.frames:
            from sdg.inspect.sheets import write_sheets

            report.images = [_publish(folder, stage, p) for p in write_sheets(folder, inv.frames, sample, stage)]
        if html:
            page, pictures = write_html(folder, inv, report.text, stage)
            for p in pictures:
                _publish(folder, stage, p)
            report.html = _publish(folder, stage, page)
            shown = {f"{TARGET}/{p.relative_to(stage).as_posix()}" for p in pictures}
            for rel in loc.list(f"{TARGET}/img"):  # pictures of an earlier report that this one no longer shows
                if rel.endswith(".jpg") and rel not in shown:
                    loc.delete(rel)
    return report


def _publish(folder: OutputFolder, stage: Path, path: Path) -> str:
    """Publish a file of the staging folder to OUT/inspect/<its path in the stage>; returns its path or URI."""
    rel = f"{TARGET}/{path.relative_to(stage).as_posix()}"
    folder.location.publish_file(path, rel, move=True)
    return folder.location.display(rel)


def write_html(folder: OutputFolder, inv: Inventory, summary: str, target: Path) -> tuple[Path, list[Path]]:
    """Write the report into the local folder `target` (report.html, its images in img/); returns the page's path
    and its images' paths."""
    from sdg.inspect.html import PageData, render
    from sdg.inspect.samples import Images, clip_samples, qa_groups
    from sdg.som.balance import answer_histograms

    qa_report, survival = folder.report("qa"), folder.report("survival")
    splits = list((qa_report or {}).get("splits") or ["train", "validation", "test"])
    kept = folder.kept_qa(splits)
    images = Images(target)
    c = inv.counts
    answers = {"generated": answer_histograms(inv.qa)}
    if qa_report:
        answers = qa_report.get("answers_per_template") or answers
    n_video_q = sum(1 for q in inv.qa if q["media"] == "video")
    facts = [("job", str(folder.manifest.get("job") or folder.config.get("name") or "?")),
             ("clips", str(c["clips"])), ("frame rows", str(c["rows"])),
             ("shard bytes", f"{c['bytes'] / 1e6:.1f} MB"), ("video rows", str(len(inv.videos))),
             ("variants", ", ".join(f"v{k}: {v} rows" for k, v in sorted(c["variants"].items()))),
             ("looks", ", ".join(f"{k} ({v})" for k, v in sorted(c["looks"].items()))),
             ("questions generated", f"{len(inv.qa) - n_video_q} frame, {n_video_q} video"),
             ("questions kept (exported)", str(len(kept)) if kept is not None else "no exports"),
             ("splits", "; ".join(f"{s}: {', '.join(v)}" for s, v in ((qa_report or {}).get("splits") or {}).items())
              or ", ".join(sorted(set(inv.clip_splits.values()))))]
    source = ("Drawn from the kept (balanced, exported) questions, exports/qa/<split>.jsonl" if kept
              else "Drawn from the generated questions in the shards and video rows (no exports)")
    data = PageData(
        title=f"sdg inspect — {facts[0][1]}", root=folder.root, summary=summary, facts=facts,
        last_run=folder.last_run, clips=clip_samples(folder, inv, images),
        qa_groups=qa_groups(folder, inv, kept or inv.qa, images), qa_source=source,
        categories=dict(c["categories"]), events=dict(c["video_events"] or Counter()),
        event_frames=dict(c["events"]), answers=answers, qa_report=qa_report, survival=survival)
    path = target / "report.html"
    path.write_text(render(data), encoding="utf-8")
    return path, list(dict.fromkeys(images.written))
