"""Answer-prior hygiene over the whole dataset: which of the generated questions to ask so that no answer can be
learnt without looking. Answers are never changed; questions are left out.

Within each split, questions are grouped by (template, topic) and cut, one balance key after the other, to a
uniform distribution over the key's values: the j most frequent values are kept with n_(j) questions each (the j-th
largest count; j >= 2 chosen to keep the most questions, the larger j on ties), the others dropped; a group whose
key has a single value is dropped whole (a template that always answers the same teaches a prior). Which questions
of a value are kept is drawn by the stable hash of their ids (letters: all four are kept, each cut to the rarest).
Keys per template (`balance_keys`):
  yes/no                the answer; for `spatial` also whether the blind "lower mark is on the left" policy is right
  multiple choice       the correct option's text (templates whose options are fixed words or time windows), then
                        the letter
  mark answers          (distance, faster, right_of_way) whether the answer is the lower of the two marks named,
                        then whether it is named first: a mark number says nothing
  other short answers   the answer (counts, colours, directions, times, frames)
so per template yes/no is 50/50, letters 25 % each, and the majority answer of a multi-valued template has exactly
the chance rate 1/j. `chance_of` gives that rate per question (0.5 yes/no and mark answers, 0.25 multiple choice,
1/j otherwise) for the baselines.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from sdg.seeds import stable_seed
from sdg.som.formats import LETTERS

MARK_ANSWER_TEMPLATES = frozenset({"distance", "faster", "right_of_way"})
# options are fixed words or times shared across clips: balance the correct option's text too (else "events happen
# mid-clip" or "a collision is usually the answer" is learnt from the options alone; counts: the count itself)
TEXT_MC_TEMPLATES = frozenset({"turn", "event_time_bin", "count", "count_entering"})
_MARKS = re.compile(r"\b(?:marked|marks?|objects?|IDs|and|or)\s+(\d+)")


def question_marks(question: str) -> list[int]:
    """The mark numbers a question names, in order."""
    return [int(m) for m in _MARKS.findall(question)]


def lower_mark_policy(q: dict) -> str | None:
    """What the blind "lower mark" policy answers (None: not a two-mark question it applies to): spatial "the lower
    mark is on the left", distance "the lower mark is closer", faster / right_of_way "the lower mark"."""
    marks = question_marks(q["question"])
    t = q.get("template") or q.get("kind")
    if len(marks) < 2:
        return None
    a, b = marks[0], marks[1]
    if t == "spatial":
        rel = "left" if re.search(r"\bleft\b", q["question"]) else "right"
        return "yes" if (a < b) == (rel == "left") else "no"
    if t == "distance":
        closer = "closer" in q["question"]
        return str(min(a, b) if closer else max(a, b))
    if t in ("faster", "right_of_way"):
        return str(min(a, b))
    return None


def balance_keys(q: dict) -> list[str]:
    """The values a question is balanced on, in order (see the module docstring)."""
    t = q.get("template") or q.get("kind")
    answer = str(q["answer"])
    if t in MARK_ANSWER_TEMPLATES:
        marks = question_marks(q["question"])
        if len(marks) >= 2:
            return [f"policy={lower_mark_policy(q) == answer}", f"first={answer == str(marks[0])}"]
        return [answer]
    if q.get("choices"):
        keys = [q["choices"][LETTERS.index(answer)]] if t in TEXT_MC_TEMPLATES and answer in LETTERS else []
        return keys + [f"letter={answer}"]
    keys = [answer.lower()]
    if t == "spatial":
        keys.append(f"policy={lower_mark_policy(q) == answer}")
    return keys


def _uniform_cut(items: list[dict], depth: int, seed) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for q in items:
        groups[balance_keys(q)[depth]].append(q)
    counts = sorted((len(v) for v in groups.values()), reverse=True)
    if len(counts) < 2:
        return []
    if next(iter(groups)).startswith("letter="):  # every letter must stay: a missing D is a prior too
        if len(counts) < len(LETTERS):
            return []
        best_j = len(LETTERS)
    else:
        best_j = max(range(2, len(counts) + 1), key=lambda j: (j * counts[j - 1], j))
    n = counts[best_j - 1]
    top = sorted(groups, key=lambda v: (-len(groups[v]), v))[:best_j]
    out = []
    for v in top:
        ranked = sorted(groups[v], key=lambda q: stable_seed(seed, "keep", q["id"]))
        out += ranked[:n]
    return out


def _joint_cut(items: list[dict], depth: int, seed) -> list[dict] | None:
    """Equalise key `depth` within every value of the earlier keys (all cells of the product the same size), so
    the earlier keys stay exactly as balanced; None when a cell is empty (then the cut is done on its own)."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for q in items:
        k = balance_keys(q)
        cells[(tuple(k[:depth]), k[depth])].append(q)
    heads = {c[0] for c in cells}
    values = {c[1] for c in cells}
    if len(values) < 2 or len(cells) != len(heads) * len(values):
        return None
    n = min(len(v) for v in cells.values())
    out = []
    for cell in sorted(cells):
        out += sorted(cells[cell], key=lambda q: stable_seed(seed, "keep", q["id"]))[:n]
    return out


def select_balanced(qas: Iterable[dict], seed=0) -> list[dict]:
    """The balanced subset of question records (dicts with id, question, answer, template or kind, topic,
    choices, split), in their input order. The first key is cut on its own; each later key jointly with the
    earlier ones when every combination occurs (exact balance of all), else on its own (approximate)."""
    qas = list(qas)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for q in qas:
        groups[(q.get("split", ""), q.get("template") or q.get("kind"), q.get("topic", ""))].append(q)
    keep: set[str] = set()
    for key in sorted(groups):
        items = groups[key]
        depth_n = len(balance_keys(items[0]))
        for depth in range(depth_n):
            joint = _joint_cut(items, depth, (seed, *key, depth)) if depth else None
            items = joint if joint is not None else _uniform_cut(items, depth, (seed, *key, depth))
            if not items:
                break
        keep |= {q["id"] for q in items}
    return [q for q in qas if q["id"] in keep]


def chance_of(qas: Sequence[dict]) -> dict[str, float]:
    """{question id: chance accuracy}: 0.5 for yes/no and mark answers, 0.25 for multiple choice, else 1 / the
    number of distinct answers of its (split, template, topic) group."""
    distinct: dict[tuple, set] = defaultdict(set)
    for q in qas:
        distinct[(q.get("split", ""), q.get("template") or q.get("kind"), q.get("topic", ""))].add(str(q["answer"]))
    out = {}
    for q in qas:
        t = q.get("template") or q.get("kind")
        if q.get("choices"):
            out[q["id"]] = 1.0 / len(q["choices"])
        elif str(q["answer"]).lower() in ("yes", "no") or t in MARK_ANSWER_TEMPLATES:
            out[q["id"]] = 0.5
        else:
            out[q["id"]] = 1.0 / max(1, len(distinct[(q.get("split", ""), t, q.get("topic", ""))]))
    return out


def answer_histograms(qas: Iterable[dict]) -> dict[str, dict[str, int]]:
    """{template: {answer (letter for multiple choice): count}}."""
    out: dict[str, Counter] = defaultdict(Counter)
    for q in qas:
        out[q.get("template") or q.get("kind")][str(q["answer"])] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}
