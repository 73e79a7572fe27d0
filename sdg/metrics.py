"""Run metrics: what each stage did with each clip (a :class:`StageRecord` per clip and stage, measured where the
stage ran), summarised per stage at the end of a run, and exported live as Ray metrics for the dashboard.

Per stage the summary gives clips done and failed, clips/s over the stage's active span, mean seconds and CPU-seconds
per clip, the busy fraction of its workers (actor pools: busy time ÷ (actors × span)), the largest queue ahead of
it (clips finished by the previous stage and not yet started here) and retries. The records travel with each clip
(sdg.pipeline), so no extra actor or service is needed to collect them.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Iterable

STAGE_NAMES = ("simulate", "groundtruth", "augment", "postprocess", "write")


@dataclass(frozen=True)
class StageRecord:
    """One stage's work on one clip: wall-clock start/end (epoch seconds), CPU seconds of the worker process
    (all its threads), whether it succeeded, and how many attempts it took."""

    clip_id: str
    stage: str
    start: float
    end: float
    cpu: float
    ok: bool = True
    attempts: int = 1
    worker: str = ""
    transport_cpu: float = 0.0  # CPU seconds of decoding the stage's inputs and encoding its outputs (sdg.transport)

    def to_dict(self) -> dict:
        return asdict(self)


class StageTimer:
    """Measures one stage call: ``with StageTimer(clip, stage) as t: ...; t.record(ok)``."""

    def __init__(self, clip_id: str, stage: str, worker: str = ""):
        self.clip_id, self.stage, self.worker = clip_id, stage, worker

    def __enter__(self) -> "StageTimer":
        self.start, self.cpu0 = time.time(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.end, self.cpu = time.time(), time.process_time() - self.cpu0

    def record(self, ok: bool, attempts: int = 1) -> StageRecord:
        return StageRecord(self.clip_id, self.stage, self.start, self.end, self.cpu, ok, attempts, self.worker)


@dataclass
class StageSummary:
    stage: str
    clips: int
    failed: int
    clips_per_s: float
    mean_s: float
    cpu_s_per_clip: float
    busy: float  # 0..1
    max_queue: int
    retries: int
    workers: int

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(records: Iterable[StageRecord], order: Iterable[str] = STAGE_NAMES,
              actors: dict[str, int] | None = None) -> list[StageSummary]:
    """Per-stage figures from every record of a run. ``actors``: the pool size of stages that run as actor pools
    (their busy fraction is over that many workers; for task stages, over the workers seen)."""
    recs = list(records)
    by_stage: dict[str, list[StageRecord]] = {}
    for r in recs:
        by_stage.setdefault(r.stage, []).append(r)
    names = [s for s in order if s in by_stage] + sorted(set(by_stage) - set(order))
    out = []
    prev: list[StageRecord] | None = None
    for name in names:
        rs = by_stage[name]
        span = max(r.end for r in rs) - min(r.start for r in rs)
        busy_s = sum(r.end - r.start for r in rs)
        workers = (actors or {}).get(name) or len({r.worker for r in rs}) or 1
        ok = [r for r in rs if r.ok]
        out.append(StageSummary(
            stage=name, clips=len(ok), failed=len(rs) - len(ok),
            clips_per_s=len(ok) / span if span > 0 else 0.0,
            mean_s=busy_s / len(rs), cpu_s_per_clip=sum(r.cpu for r in rs) / len(rs),
            busy=min(1.0, busy_s / (workers * span)) if span > 0 else 1.0,
            max_queue=_max_queue(prev, rs) if prev else 0,
            retries=sum(r.attempts - 1 for r in rs), workers=workers,
        ))
        prev = rs
    return out


def _max_queue(before: list[StageRecord], here: list[StageRecord]) -> int:
    """The most clips at any moment that the previous stage had finished and this one had not started."""
    events = sorted([(r.end, 1) for r in before] + [(r.start, -1) for r in here])
    depth = best = 0
    for _, d in events:
        depth += d
        best = max(best, depth)
    return best


def format_table(summaries: list[StageSummary]) -> str:
    head = f"{'stage':<12}{'clips':>6}{'failed':>7}{'clips/s':>9}{'s/clip':>8}{'cpu-s/clip':>11}{'busy':>6}" \
           f"{'queue':>6}{'retries':>8}"
    lines = [head]
    for s in summaries:
        lines.append(f"{s.stage:<12}{s.clips:>6}{s.failed:>7}{s.clips_per_s:>9.3f}{s.mean_s:>8.2f}"
                     f"{s.cpu_s_per_clip:>11.2f}{s.busy:>6.0%}{s.max_queue:>6}{s.retries:>8}")
    return "\n".join(lines)


def bottleneck(summaries: list[StageSummary]) -> StageSummary | None:
    """The stage with the most work per clip per worker (the one that sets the run's pace)."""
    return max(summaries, key=lambda s: s.mean_s / max(1, s.workers), default=None)


# ------------------------------------------------------------------------------------------- Ray metrics
_METRICS: dict = {}


def export_to_ray(record: StageRecord) -> None:
    """Count the record in Ray's metrics (``sdg_stage_clips``, ``sdg_stage_failures``, ``sdg_stage_retries``,
    ``sdg_stage_seconds`` by ``stage``): the Ray dashboard's metrics view shows them next to Ray Data's own operator
    metrics. A no-op outside a Ray worker or driver (then Ray is not even imported: the in-process executor, a
    notebook)."""
    ray = sys.modules.get("ray")  # a process that never imported Ray has no Ray session to count in
    if ray is None or not ray.is_initialized():
        return
    from ray.util import metrics

    if not _METRICS:
        tags = ("stage",)
        _METRICS["clips"] = metrics.Counter("sdg_stage_clips", "clips a stage finished", tag_keys=tags)
        _METRICS["failures"] = metrics.Counter("sdg_stage_failures", "clips that failed in a stage", tag_keys=tags)
        _METRICS["retries"] = metrics.Counter("sdg_stage_retries", "extra attempts of a stage", tag_keys=tags)
        _METRICS["seconds"] = metrics.Histogram("sdg_stage_seconds", "seconds a stage spent on one clip",
                                                boundaries=[0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
                                                tag_keys=tags)
    tags = {"stage": record.stage}
    _METRICS["clips" if record.ok else "failures"].inc(1, tags=tags)
    if record.attempts > 1:
        _METRICS["retries"].inc(record.attempts - 1, tags=tags)
    _METRICS["seconds"].observe(record.end - record.start, tags=tags)


def progress_line(records: list[StageRecord], done: int, total: int, actors: dict[str, int] | None = None,
                  order: Iterable[str] = STAGE_NAMES) -> str:
    """``clips 3/8 · simulate 3 · groundtruth 3 · augment 2 … · ETA 1m40s (augment)``: clips finished per stage and
    the time left at the bottleneck stage's pace (its mean seconds per clip over its workers)."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r.stage] = counts.get(r.stage, 0) + 1
    parts = [f"clips {done}/{total}"] + [f"{s} {counts[s]}" for s in order if s in counts]
    sums = summarize(records, order, actors) if records else []
    slow = bottleneck(sums)
    if slow and done < total:
        left = (total - done) * slow.mean_s / max(1, slow.workers)
        parts.append(f"ETA {_duration(left)} ({slow.stage})")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
