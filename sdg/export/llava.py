"""LLaVA-style conversation export of the rows' Q&A pairs.

out_dir/llava.json: a JSON list of
  {"id": "<stem>-q000", "image": "images/<stem>.jpg",
   "conversations": [{"from": "human", "value": "<image>\\n<question + options + instruction>"},
                     {"from": "gpt", "value": "<answer>"}]}
The prompt is sdg.som.qa.render_prompt: multiple choice lists "A. ..." options and ends with "Answer with the
option's letter from the given choices directly."; the gpt turn is then the bare letter. Questions that name marks
(sdg.som.qa.MARKED_KINDS) point at the Set-of-Mark image images/<stem>_som.jpg, the others at the clean augmented
frame images/<stem>.jpg. With multi_turn=True the pairs of one image become one record, "<image>\\n" only in the
first human turn. Paths are relative to out_dir; images are shared with the other exports. `keep` (a set of Q&A
ids) restricts the export to the dataset's balanced selection (sdg.som.balance).

Video records (`export_llava_video`) follow the same rules with a `video` key instead of `image`:
  {"id": "<qa id>", "video": "videos/<clip>/<variant>_som.mp4", "conversations": [...]}
and the same "<image>\n" token in the first human turn: LLaVA-NeXT and LLaVA-OneVision read a record's `video`
and expand that one <image> token into the sampled frames (VIDEO_TOKEN "<video>" is what Video-LLaVA style
loaders expect instead; pass token=VIDEO_TOKEN for them).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from pydantic import ValidationError

from sdg.export.coco import ImageNamer, RowError, atomic_write_text, require, row_label, write_row_image
from sdg.model import QAPair
from sdg.som.qa import MARKED_KINDS, render_prompt

IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"


def _qa_pairs(row: dict, index: int) -> list[QAPair]:
    out = []
    for k, qa in enumerate(row.get("qa") or []):
        try:
            out.append(qa if isinstance(qa, QAPair) else
                       QAPair(**{**{k: v for k, v in qa.items() if v is not None}, "choices": qa.get("choices") or []}))
        except (TypeError, ValidationError) as e:
            raise RowError(f"{row_label(row, index)}: qa[{k}] is not a QAPair (question, answer, kind, choices): "
                           f"{e}") from None
    return out


def export_llava(rows: Iterable[dict], out_dir: Path, *, name: str = "llava.json",
                 multi_turn: bool = False, keep: set[str] | None = None) -> Path:
    """Write the images the conversations use and out_dir/<name>; returns the JSON path. Rows without Q&A are
    skipped; with `keep`, so are the pairs whose id is not in it."""
    out_dir = Path(out_dir)
    namer = ImageNamer()
    records = []
    for index, row in enumerate(rows):
        qas = _qa_pairs(row, index)
        if keep is not None:
            qas = [qa for qa in qas if qa.id in keep]
        if not qas:
            continue
        require(row, index, "clip_id", "frame_index")
        stem = namer.stem(row)
        groups: dict[str, list[tuple[int, QAPair]]] = {}
        for k, qa in enumerate(qas):
            groups.setdefault("som_image" if qa.kind in MARKED_KINDS else "image", []).append((k, qa))
        for column in ("image", "som_image"):
            if column not in groups:
                continue
            if row.get(column) is None:
                kinds = sorted({qa.kind for _, qa in groups[column]})
                raise RowError(f"{row_label(row, index)} has questions of kind {kinds} but no {column!r} to show "
                               "them with")
            image = write_row_image(row, index, column, out_dir, stem)
            turns = [(k, [{"from": "human", "value": f"{IMAGE_TOKEN}\n{render_prompt(qa)}"},
                          {"from": "gpt", "value": qa.answer}]) for k, qa in groups[column]]
            if multi_turn:
                conv = [t for _, pair in turns for t in pair]
                for t in conv[2::2]:  # the image token only once, in the first human turn
                    t["value"] = t["value"][len(IMAGE_TOKEN) + 1:]
                suffix = "" if column == "image" else "-som"
                records.append({"id": f"{stem}{suffix}", "image": image, "conversations": conv})
            else:
                records += [{"id": f"{stem}-q{k:03d}", "image": image, "conversations": pair} for k, pair in turns]
    return _write_list(out_dir / name, records)


def _write_list(path: Path, records: list[dict]) -> Path:
    body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    atomic_write_text(path, "[\n" + body + "\n]\n" if records else "[]\n")
    return path


def video_record(qa: QAPair, video: str, token: str = IMAGE_TOKEN) -> dict:
    """The LLaVA record of one video question; `video` is the mp4 path relative to the export folder."""
    return {"id": qa.id, "video": video,
            "conversations": [{"from": "human", "value": f"{token}\n{render_prompt(qa)}"},
                              {"from": "gpt", "value": qa.answer}]}


def export_llava_video(items: Iterable[tuple[QAPair, str]], out_dir: Path, *, name: str = "llava_video.json",
                       token: str = IMAGE_TOKEN) -> Path:
    """Write out_dir/<name> from (video question, video path relative to out_dir) pairs; the videos must exist."""
    out_dir = Path(out_dir)
    records = []
    for qa, video in items:
        if not (out_dir / video).is_file():
            raise RowError(f"question {qa.id}: its video {video} is not in {out_dir}; write the videos first")
        records.append(video_record(qa, video, token))
    return _write_list(out_dir / name, records)
