"""Text-only baselines: how well a model that never looks at the image or video could answer. Reported per kind
(and per template) against chance (sdg.som.balance.chance_of), trained on the train split and scored on the
held-out splits (validation + test):

  majority   per template, the train split's most frequent answer (the letter for multiple choice; first or
             second for answers that are one of the two marks a question names)
  bow        a bag-of-words naive Bayes classifier per template: for free answers P(answer | question words);
             for multiple choice each option is scored by its own words, its letter and the pairs (question word,
             option word) (P(correct | ...)), so option-text priors ("a collision" is usually right) and options
             that fit the question's wording are caught too; for answers that are
             one of the two marks a question names, P(first or second | question words, whether the first is the
             lower mark), which learns any mark-number policy
  lower_mark the blind mark-number policies (sdg.som.balance.lower_mark_policy) on the templates they apply to

`chance` is what a blind guesser that draws its answers from the train split's answers scores on the held-out
questions: per question, the train split's share of its answer among its template's. Where answers come from a
fixed set balanced per split (yes/no, letters, left/right, mark answers) that is 1/k (`chance_uniform`); where they
are open (a time in seconds, a frame index) a held-out scenario's answers were mostly never a train answer, and 1/k
of the held-out split's distinct answers would overstate what anything that does not look can reach.
A dataset passes when every kind's baselines stay within 10 points of its chance rate. Questions repeat over the
frames and variants of a clip (the same question and answer), so the report also gives `n_unique`, the number of
distinct (clip, question, answer), and `n_independent`, the number of distinct facts (clip, template, topic, marks
named, answer) however phrased: the samples a significance test should count (the marks are drawn per clip, so
a mark number ties a clip's questions together, never two clips').
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from sdg.som.balance import MARK_ANSWER_TEMPLATES, chance_of, lower_mark_policy, question_marks
from sdg.som.formats import LETTERS, correct_text

HELD_OUT = ("validation", "test")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing over bags of words."""

    def __init__(self) -> None:
        self.class_count: Counter = Counter()
        self.word_count: dict[str, Counter] = defaultdict(Counter)
        self.vocab: set[str] = set()

    def fit(self, docs: Iterable[tuple[list[str], str]]) -> "NaiveBayes":
        for ws, label in docs:
            self.class_count[label] += 1
            self.word_count[label].update(ws)
            self.vocab.update(ws)
        return self

    def log_score(self, ws: Sequence[str], label: str) -> float:
        n = sum(self.class_count.values())
        wc = self.word_count[label]
        total = sum(wc.values()) + len(self.vocab) + 1
        s = math.log((self.class_count[label] + 1) / (n + len(self.class_count)))
        return s + sum(math.log((wc[w] + 1) / total) for w in ws)

    def predict(self, ws: Sequence[str]) -> str | None:
        if not self.class_count:
            return None
        return max(sorted(self.class_count), key=lambda c: self.log_score(ws, c))


def _template(q: dict) -> str:
    return q.get("template") or q.get("kind")


def _mc_docs(q: dict) -> list[tuple[list[str], str]]:
    """One document per option: its words, its letter, and every (question word, option word) pair, so that
    options that fit a question's wording ("objects marked 3 and 5" -> a two-party event) are learnt too."""
    qw = sorted(set(words(q["question"])))
    return [(ow + [f"letter_{LETTERS[i]}"] + [f"{a}|{b}" for a in qw for b in set(ow)],
             "correct" if LETTERS[i] == q["answer"] else "wrong")
            for i, ow in ((i, words(opt)) for i, opt in enumerate(q["choices"]))]


def _two_marks(q: dict) -> tuple[int, int] | None:
    m = question_marks(q["question"])
    return (m[0], m[1]) if _template(q) in MARK_ANSWER_TEMPLATES and len(m) >= 2 else None


def _label(q: dict) -> str:
    """The class a text-only model predicts: the answer, or for mark answers which named mark it is."""
    two = _two_marks(q)
    if two is None:
        return str(q["answer"])
    return "first" if str(q["answer"]) == str(two[0]) else "second"


def _doc(q: dict) -> list[str]:
    two = _two_marks(q)
    return words(q["question"]) + ([f"first_lower_{two[0] < two[1]}"] if two else [])


def _prior_chance(train: list[dict]):
    """q -> the share of q's answer (its `_label`) among the train split's answers of q's template; None for a
    template the train split never asks. Per template only: the topic is a word of the question (a category), and a
    prior per topic would already be a text-only model."""
    shares: dict[str, Counter] = defaultdict(Counter)
    for q in train:
        shares[_template(q)][_label(q)] += 1

    def chance(q: dict) -> float | None:
        c = shares.get(_template(q))
        return c[_label(q)] / sum(c.values()) if c else None
    return chance


def _fit(train: list[dict]) -> dict[str, tuple[str, NaiveBayes]]:
    by_t: dict[str, list[dict]] = defaultdict(list)
    for q in train:
        by_t[_template(q)].append(q)
    models = {}
    for t, qs in by_t.items():
        majority = Counter(_label(q) for q in qs).most_common(1)[0][0]
        if qs[0].get("choices"):
            nb = NaiveBayes().fit(d for q in qs for d in _mc_docs(q))
        else:
            nb = NaiveBayes().fit((_doc(q), _label(q)) for q in qs)
        models[t] = (majority, nb)
    return models


def _predict_bow(q: dict, nb: NaiveBayes) -> str | None:
    if q.get("choices"):
        scores = [nb.log_score(ws, "correct") - nb.log_score(ws, "wrong") for ws, _ in _mc_docs(q)]
        return LETTERS[max(range(len(scores)), key=lambda i: (scores[i], -i))]
    return nb.predict(_doc(q))


def text_only_report(qas: Sequence[dict]) -> dict:
    """{"by_kind": {kind: {n, n_unique, n_independent, chance, chance_uniform, majority, bow, lower_mark,
    lower_mark_n}},
    "by_template": {...},
    "train": n, "held_out": n}: baselines trained on the train split, scored on the held-out splits (on the train
    split itself when there is no held-out question)."""
    train = [q for q in qas if q.get("split", "train") == "train"]
    test = [q for q in qas if q.get("split") in HELD_OUT] or train
    models = _fit(train)
    uniform = chance_of(qas)
    prior = _prior_chance(train)
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for q in test:
        t = _template(q)
        majority, nb = models.get(t, (None, None))
        ans = _label(q)
        c_uniform = uniform[q["id"]]
        c = prior(q)
        c = c_uniform if c is None else c
        # a template never seen in training: the blind guesser is at chance
        maj_ok = (majority == ans) if majority is not None else c
        bow_pred = _predict_bow(q, nb) if nb is not None else None
        bow_ok = (bow_pred == ans) if bow_pred is not None else c
        policy = lower_mark_policy(q)
        same = (q.get("clip_id"), q["question"], correct_text(q))  # the same question again (another frame)
        # the same fact about the same objects, however phrased: what a model keyed on the text could tie together
        fact = (q.get("clip_id"), t, q.get("topic", ""), tuple(sorted(question_marks(q["question"]))),
                correct_text(q))
        for key in (f"kind:{q['kind']}", f"template:{t}"):
            r = rows[key]
            r["unique"].append(same)
            r["facts"].append(fact)
            r["chance"].append(c)
            r["chance_uniform"].append(c_uniform)
            r["majority"].append(float(maj_ok))
            r["bow"].append(float(bow_ok))
            if policy is not None:
                r["lower_mark"].append(float(policy == str(q["answer"])))
    out: dict = {"by_kind": {}, "by_template": {}, "train": len(train), "held_out": len(test)}
    for key, r in sorted(rows.items()):
        group, name = key.split(":", 1)
        mean = {k: round(sum(v) / len(v), 4) for k, v in r.items() if v and k not in ("unique", "facts")}
        mean["n"] = len(r["chance"])
        mean["n_unique"] = len(set(r["unique"]))
        mean["n_independent"] = len(set(r["facts"]))
        mean["lower_mark_n"] = len(r["lower_mark"])
        out["by_kind" if group == "kind" else "by_template"][name] = mean
    return out


def z_score(accuracy: float, chance: float, n: int) -> float:
    """How many standard errors of n independent samples an accuracy lies from its chance rate."""
    return (accuracy - chance) / math.sqrt(max(chance * (1 - chance), 1e-9) / max(n, 1))


def blind_policy_report(qas: Sequence[dict]) -> dict[str, dict]:
    """{template: {n, accuracy}} of the lower-mark policies over all the given questions."""
    acc: dict[str, list[float]] = defaultdict(list)
    for q in qas:
        p = lower_mark_policy(q)
        if p is not None:
            acc[_template(q)].append(float(p == str(q["answer"])))
    return {t: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for t, v in sorted(acc.items())}
