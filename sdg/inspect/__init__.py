"""`sdg inspect OUT_DIR`: what an output folder holds, for a person to look at.

Writes to OUT_DIR/inspect/:
  report.html        the HTML report (sdg.inspect.html): sample Set-of-Mark frames per clip and video, event videos'
                     first and last frames, Q&A examples per kind, histograms of classes / events / answers per
                     template, survival per look, the text-only baselines and blind mark policies against chance,
                     the last run's per-stage summary; its images in img/
  contact_sheet.png  modalities.png  looks.png  builtin_looks.png   the PNG sheets (sdg.inspect.sheets)
and returns the text summary (counts per column and category) the command prints.

Modules: folder (every read of the output folder), counts (one pass over the light columns), sheets (PNG sheets),
samples (the report's pictures), charts (inline SVG), html (page assembly).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sdg.inspect.counts import Inventory, summary_text, take_inventory
from sdg.inspect.folder import OutputFolder

__all__ = ["Report", "inspect_output"]


@dataclass
class Report:
    text: str
    counts: dict
    images: list[Path] = field(default_factory=list)
    html: Path | None = None


def inspect_output(out_dir: Path, sample: int = 6, html: bool = True) -> Report:
    """Count, draw the sheets and (html=True) write the HTML report of an output folder."""
    folder = OutputFolder(out_dir)
    inv = take_inventory(folder)
    report = Report(text=summary_text(folder, inv), counts=inv.counts)
    target = Path(out_dir) / "inspect"
    if inv.frames:
        from sdg.inspect.sheets import write_sheets

        report.images = write_sheets(folder, inv.frames, sample, target)
    if html:
        report.html = write_html(folder, inv, report.text, target)
    return report


def write_html(folder: OutputFolder, inv: Inventory, summary: str, target: Path) -> Path:
    from sdg.export.files import atomic_write_text
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
        title=f"sdg inspect — {facts[0][1]}", root=str(folder.root), summary=summary, facts=facts,
        last_run=folder.last_run, clips=clip_samples(folder, inv, images),
        qa_groups=qa_groups(folder, inv, kept or inv.qa, images), qa_source=source,
        categories=dict(c["categories"]), events=dict(c["video_events"] or Counter()),
        event_frames=dict(c["events"]), answers=answers, qa_report=qa_report, survival=survival)
    path = target / "report.html"
    atomic_write_text(path, render(data))
    written = {p.name for p in images.written}
    for old in (target / "img").glob("*.jpg"):  # pictures of an earlier report that this one no longer shows
        if old.name not in written:
            old.unlink()
    return path
