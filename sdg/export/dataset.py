"""The dataset as VLM teams load it, from the committed shards and video rows of an output folder: per split (by
scenario, sdg.config.Splits) the COCO / ODVG / LLaVA exports, LLaVA video records, AI City multiple choice, WTS
phase captions, the balanced Q&A (sdg.som.balance) as JSON lines, the reports of what was kept and what a blind
model scores (reports/*.json), and the dataset card (README.md with the Hugging Face YAML header naming the split
files, so `datasets.load_dataset(OUT_DIR)` returns the train / validation / test splits).

Layout under OUT_DIR (the output location: a local folder or an object store; everything is built in a local
staging folder with the same layout, then published, sdg.run.write_exports):
  shards/part-<clip>.parquet     frame rows (config "frames", the default)
  videos/part-<clip>.parquet     video rows (config "videos")
  exports/coco_<split>.json  odvg_<split>.jsonl  llava_<split>.json  llava_video_<split>.json
  exports/aicity_<split>.json  wts_captions_<split>.json  qa/<split>.jsonl  qa/<split>.parquet (config "qa")
  exports/images/  exports/videos/<clip>/
  reports/qa.json  reports/survival.json
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq

from sdg.config import SPLIT_NAMES, JobConfig
from sdg.export.coco import ImageNamer, export_coco, write_row_image
from sdg.export.files import atomic_write_bytes, atomic_write_text
from sdg.export.llava import export_llava, export_llava_video
from sdg.export.odvg import export_odvg
from sdg.export.video import export_som_videos, export_videos, som_video_path
from sdg.export.video_rows import read_video_rows, video_rows_file
from sdg.model import QAPair
from sdg.som.balance import answer_histograms, select_balanced
from sdg.som.baselines import blind_policy_report, text_only_report
from sdg.som.formats import render_prompt, to_aicity
from sdg.som.qa import MARKED_KINDS

_LIGHT_VIDEO_COLUMNS = ["job", "scenario_id", "camera", "clip_id", "split", "variant", "look", "fps", "n_frames",
                        "events", "phases", "qa"]


class DatasetExport:
    """Reads the Q&A of every committed clip once, splits and balances it; `export(name)` writes one of the
    configured exports per split, `finish()` the rest (AI City, WTS, Q&A lines, reports, card)."""

    def __init__(self, cfg: JobConfig, manifest, stage: Path):
        """``manifest``: the output's (its location is where the clips are read from); ``stage``: the local folder
        the exports, reports and card are written to, laid out as the output root."""
        self.cfg, self.manifest, self.stage = cfg, manifest, Path(stage)
        self.entries = [e for _, e in sorted(manifest.clips.items())]
        self.shards: dict[str, list[str]] = defaultdict(list)  # split -> frame files (relative to the output root)
        self.split_of_clip: dict[str, str] = {}
        for e in self.entries:
            rel = e["shard"]
            col = manifest.read_table(rel, columns=["split"]).column("split").to_pylist()
            split = (col[0] if col else None) or "train"
            self.shards[split].append(rel)
            self.split_of_clip[e["clip_id"]] = split
        self.splits = [s for s in SPLIT_NAMES if s in self.shards]
        self.video_rows = read_video_rows(manifest, self.entries, columns=_LIGHT_VIDEO_COLUMNS)
        records = self._frame_records() + self._video_records()
        self.before = records
        self.selected = select_balanced(records, seed=cfg.seed)
        self.keep = {q["id"] for q in self.selected}

    # ------------------------------------------------------------------------------------------- reading
    def rows(self, split: str, columns: list[str] | None = None) -> Iterator[dict]:
        for rel in self.shards.get(split, []):
            with self.manifest.location.open_input(rel) as f:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=16, columns=columns):
                    yield from batch.to_pylist()

    def _frame_records(self) -> list[dict]:
        out = []
        for split in self.splits:
            for r in self.rows(split, ["clip_id", "scenario_id", "variant", "frame_index", "qa"]):
                for qa in r["qa"] or []:
                    out.append({**qa, "choices": qa.get("choices") or [], "split": split, "clip_id": r["clip_id"],
                                "scenario_id": r["scenario_id"], "variant": r["variant"],
                                "frame_index": r["frame_index"], "media": "frame"})
        return out

    def _video_records(self) -> list[dict]:
        out = []
        for r in self.video_rows:
            for qa in r["qa"] or []:
                event = qa["video"][len("event:"):] if qa["video"].startswith("event:") else None
                out.append({**qa, "choices": qa.get("choices") or [], "split": r["split"], "clip_id": r["clip_id"],
                            "scenario_id": r["scenario_id"], "variant": r["variant"], "frame_index": -1,
                            "media": som_video_path(r["clip_id"], r["variant"], event)})
        return out

    # ------------------------------------------------------------------------------------------- exports
    def export(self, name: str, target: Path) -> Path:
        """One configured export ("coco" | "odvg" | "llava" | "video") for every split; returns its folder/file."""
        target = Path(target)
        last = target
        for split in self.splits:
            if name == "coco":
                last = export_coco(self.rows(split), target, name=f"coco_{split}.json")
            elif name == "odvg":
                last = export_odvg(self.rows(split), target, name=f"odvg_{split}.jsonl")
            elif name == "llava":
                last = export_llava(self.rows(split), target, name=f"llava_{split}.json", keep=self.keep)
                self._som_videos(target)
                kept = [q for q in self.selected if q["split"] == split and q["media"] != "frame"]
                export_llava_video(((QAPair(**_qa_fields(q)), q["media"]) for q in kept), target,
                                   name=f"llava_video_{split}.json")
            elif name == "video":
                last = export_videos(self.rows(split), target, som=not self.video_rows)
                self._som_videos(target)
            else:
                raise ValueError(f"unknown export {name!r}")
        return last

    def _som_videos(self, target: Path) -> None:
        if getattr(self, "_videos_written", False):
            return
        for e in self.entries:
            rel = video_rows_file(e)
            if rel is not None:
                export_som_videos(self.manifest.read_table(rel, columns=["clip_id", "variant", "som_video",
                                                                         "event_videos"]).to_pylist(), target)
        self._videos_written = True

    def finish(self, target: Path) -> dict[str, Path]:
        """AI City JSON, WTS captions, Q&A lines per split, the reports and the dataset card."""
        target = Path(target)
        self._som_videos(target)
        written: dict[str, Path] = {}
        media = self._frame_media(target)
        for split in self.splits:
            kept = [q for q in self.selected if q["split"] == split]
            for q in kept:
                q["path"] = media.get((q["clip_id"], q["variant"], q["frame_index"], q["kind"] in MARKED_KINDS),
                                      q["media"]) if q["media"] == "frame" else q["media"]
            aicity = [{"id": q["id"], **to_aicity(QAPair(**_qa_fields(q))), "kind": q["kind"],
                       "template": q["template"], ("image" if q["media"] == "frame" else "video"): q["path"]}
                      for q in kept if len(q["choices"]) == 4]
            written[f"aicity_{split}"] = _json(target / f"aicity_{split}.json", aicity)
            written[f"wts_{split}"] = _json(target / f"wts_captions_{split}.json", self._wts(split))
            lines = [json.dumps({k: q[k] for k in ("id", "split", "scenario_id", "clip_id", "variant",
                                                   "frame_index", "kind", "template", "topic", "level", "format",
                                                   "question", "choices", "answer", "rationale", "path")}
                                | {"prompt": render_prompt(QAPair(**_qa_fields(q)))}, ensure_ascii=False)
                     for q in kept]
            path = target / "qa" / f"{split}.jsonl"
            atomic_write_text(path, "".join(x + "\n" for x in lines))
            written[f"qa_{split}"] = path
            # the same records as Parquet: the card's "qa" config (one builder for every config of the folder)
            written[f"qa_{split}_parquet"] = _parquet(target / "qa" / f"{split}.parquet",
                                                      [json.loads(x) for x in lines])
        written.update(self._reports())
        written["card"] = self._card()
        return written

    def _frame_media(self, target: Path) -> dict[tuple, str]:
        """Write the frames the kept frame questions show; {(clip, variant, frame, som?): path}."""
        wanted = {(q["clip_id"], q["variant"], q["frame_index"]) for q in self.selected if q["media"] == "frame"}
        namer = ImageNamer()
        out = {}
        for split in self.splits:
            for index, row in enumerate(self.rows(split)):
                stem = namer.stem(row)
                key = (row["clip_id"], row["variant"], row["frame_index"])
                if key not in wanted:
                    continue
                for som in (False, True):
                    column = "som_image" if som else "image"
                    if row.get(column):
                        out[(*key, som)] = write_row_image(row, index, column, target, stem)
        return out

    def _wts(self, split: str) -> list[dict]:
        out = []
        for r in self.video_rows:
            if r["split"] != split:
                continue
            kinds = {e["event_id"]: e["kind"] for e in r["events"]}
            by_event: dict[str, list[dict]] = defaultdict(list)
            for p in r["phases"]:
                by_event[p["event_id"]].append(p)
            for eid, phases in by_event.items():
                out.append({
                    "id": f"{r['clip_id']}/{'sim' if r['variant'] < 0 else 'v%d' % r['variant']}/{eid}",
                    "scenario": r["scenario_id"], "clip_id": r["clip_id"], "variant": r["variant"],
                    "event_id": eid, "event": kinds.get(eid, ""), "look": r["look"],
                    "video": som_video_path(r["clip_id"], r["variant"], eid),
                    "event_phase": [{"labels": [str(p["label"])], "phase": p["phase"],
                                     "start_time": round(float(p["start_time"]), 3),
                                     "end_time": round(float(p["end_time"]), 3),
                                     "caption_pedestrian": p["caption_pedestrian"],
                                     "caption_vehicle": p["caption_vehicle"]} for p in phases]})
        return out

    # ------------------------------------------------------------------------------------------- reports
    def _reports(self) -> dict[str, Path]:
        events = Counter()
        video_q_per_event_kind: Counter = Counter()
        for r in self.video_rows:
            kinds = {e["event_id"]: e["kind"] for e in r["events"]}
            events.update(kinds.values())
            for q in r["qa"]:
                if q["topic"] in kinds.values() or q["video"].startswith("event:"):
                    kind = q["topic"] if q["topic"] in kinds.values() else kinds.get(q["video"][6:], "")
                    video_q_per_event_kind[kind] += 1
        qa_report = {
            "splits": {s: sorted({q["scenario_id"] for q in self.before if q["split"] == s}) for s in self.splits},
            "questions": {"generated": len(self.before), "kept": len(self.selected),
                          "kept_per_split": dict(Counter(q["split"] for q in self.selected))},
            "answers_per_template": {"generated": answer_histograms(self.before),
                                     "kept": answer_histograms(self.selected)},
            "kept_per_kind": dict(sorted(Counter(q["kind"] for q in self.selected).items())),
            "text_only_baseline": text_only_report(self.selected),
            "blind_mark_policies": blind_policy_report(self.selected),
            "events_per_kind": dict(sorted(events.items())),
            "video_questions_per_event_kind": dict(sorted(video_q_per_event_kind.items())),
        }
        reports = self.stage / "reports"
        out = {"report_qa": _json(reports / "qa.json", qa_report),
               "report_survival": _json(reports / "survival.json", self._survival())}
        return out

    def _survival(self) -> dict:
        """Per look: marked (object, frame) scores and the fraction lost (survival < 0.3), for the looks kept and
        the looks a re-draw gave up (from the variants' provenance)."""
        from sdg.som.survival import SURVIVAL_LOST

        kept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        redrawn = []
        seen_prov = set()
        for split in self.splits:
            for r in self.rows(split, ["clip_id", "variant", "look", "objects", "provenance"]):
                look = json.loads(r["look"] or "{}")
                name = f"{look.get('weather')}/{look.get('lighting')}/{look.get('road')}"
                for o in r["objects"] or []:
                    if o["mark"] and o.get("survival") is not None:
                        kept[name][0] += 1
                        kept[name][1] += int(o["survival"] < SURVIVAL_LOST)
                key = (r["clip_id"], r["variant"])
                if key not in seen_prov:
                    seen_prov.add(key)
                    prov = json.loads(r["provenance"] or "{}")
                    for rd in prov.get("redraws", []):
                        lk = rd["look"]
                        redrawn.append({"clip_id": r["clip_id"], "variant": r["variant"],
                                        "look": f"{lk.get('weather')}/{lk.get('lighting')}/{lk.get('road')}",
                                        "lost_fraction": rd["lost_fraction"], "redrawn_as": name})
        return {"threshold": SURVIVAL_LOST, "max_lost_fraction": self.cfg.augmentation.max_lost_fraction,
                "per_look": {k: {"scored": n, "lost": lost, "lost_fraction": round(lost / n, 4) if n else 0.0}
                             for k, (n, lost) in sorted(kept.items())},
                "redrawn": redrawn}

    def _card(self) -> Path:
        from sdg.export.card import dataset_card

        videos = {s: [] for s in self.splits}
        for e in self.entries:
            rel = video_rows_file(e)
            if rel is not None:
                videos[self.split_of_clip.get(e["clip_id"], "train")].append(rel)
        text = dataset_card(self.cfg, {s: list(self.shards[s]) for s in self.splits}, videos,
                            {s: f"exports/qa/{s}.parquet" for s in self.splits},
                            json.loads((self.stage / "reports" / "qa.json").read_text()))
        path = self.stage / "README.md"
        atomic_write_text(path, text)
        return path


def _qa_fields(q: dict) -> dict:
    return {k: q[k] for k in QAPair.model_fields if k in q}


def _parquet(path: Path, records: list[dict]) -> Path:
    import io

    import pyarrow as pa

    schema = pa.schema([(k, pa.string()) for k in ("id", "split", "scenario_id", "clip_id")] +
                       [("variant", pa.int32()), ("frame_index", pa.int32())] +
                       [(k, pa.string()) for k in ("kind", "template", "topic", "level", "format", "question")] +
                       [("choices", pa.list_(pa.string()))] +
                       [(k, pa.string()) for k in ("answer", "rationale", "path", "prompt")])
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records, schema=schema), buf, compression="zstd")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _json(path: Path, obj) -> Path:
    atomic_write_text(path, json.dumps(obj, indent=1, ensure_ascii=False))
    return path
