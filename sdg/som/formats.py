"""Answer formats shared by the frame and the video questions: the prompt text, one answer-format instruction per
question type, multiple choice with options shuffled by a stable hash, and the AI City record.

Formats (`QAPair.format`):
  yes_no            answer "yes" | "no" (the workflow's collision question keeps its own "Yes" | "No" wording)
  multiple_choice   four options A-D in `QAPair.choices`; the answer is the letter. Built with the correct option
                    first (`multiple_choice`), then `shuffle_options` deals the letters: within one group of questions
                    (a clip's variant) the correct letters of each template cycle through a seeded permutation of
                    A-D, so letters are uniform per template by construction, and the distractors take the remaining
                    letters in an order drawn from the question's own stable hash. Distractors are chosen before and
                    independently of the letter assignment, never by looking at the answer's text.
  short             a number, a mark number, or one word from a fixed pair (left/right, moving/stopped, ...)
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from sdg.model import QAPair
from sdg.seeds import stable_seed

LETTERS = "ABCD"
MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
YES_NO = "Answer yes or no."
# frame kinds (sdg.som.qa) and video templates (sdg.som.video_qa) register their instruction here: one per type
INSTRUCTIONS: dict[str, str] = {
    "count": MC_INSTRUCTION,
    "existence": YES_NO,
    "spatial": YES_NO,
    "position": "Answer with one word: left or right.",
    "distance": "Answer with the mark number only.",
    "event": MC_INSTRUCTION,
    "event_kind": YES_NO,
    "traffic_light": "Answer with one word: red, yellow or green.",
}
TEMPLATE_INSTRUCTIONS: dict[str, str] = {  # video templates (sdg.som.video_qa)
    "collision_pair": "",  # the workflow's question carries its own instruction
    "event_yn": "Answer yes or no.",
    "event_start_time": "Answer with the time in seconds, rounded to one decimal.",
    "event_start_frame": "Answer with the frame number only.",
    "event_end_time": "Answer with the time in seconds, rounded to one decimal.",
    "event_order": "Answer yes or no.",
    "moving_after": "Answer yes or no.",
    "moving_state": "Answer with one word: moving or stopped.",
    "direction_camera": "Answer with one word: toward or away.",
    "direction_image": "Answer with 'left to right' or 'right to left'.",
    "faster": "Answer with the mark number only.",
    "count_entering": MC_INSTRUCTION,
    "right_of_way": "Answer with the mark number only.",
    "braked": "Answer yes or no.",
    "counterfactual_stop": "Answer yes or no.",
    "counterfactual_course": "Answer yes or no.",
}


def instruction_for(qa: QAPair) -> str:
    """The single answer-format instruction of a question: multiple choice always gets MC_INSTRUCTION; otherwise
    its template's, else its kind's."""
    if qa.choices:
        return MC_INSTRUCTION
    if qa.template in TEMPLATE_INSTRUCTIONS:
        return TEMPLATE_INSTRUCTIONS[qa.template]
    return INSTRUCTIONS.get(qa.kind, "")


def render_prompt(qa: QAPair) -> str:
    """The text shown to the model: the question, then the options "A. ..." one per line (multiple choice), then the
    type's single answer-format instruction."""
    lines = [qa.question]
    lines += [f"{LETTERS[i]}. {c}" for i, c in enumerate(qa.choices)]
    instruction = instruction_for(qa)
    if instruction:
        lines.append(instruction)
    return "\n".join(lines)


def to_aicity(qa: QAPair) -> dict:
    """AI City Challenge Track 2 style record {question, a, b, c, d, correct} of a 4-option multiple-choice pair."""
    if len(qa.choices) != 4 or qa.answer not in LETTERS:
        raise ValueError(f"to_aicity: needs a 4-option multiple-choice QAPair with a letter answer, got kind "
                         f"{qa.kind!r} with {len(qa.choices)} choices and answer {qa.answer!r}")
    rec = {"question": qa.question}
    rec.update({LETTERS[i].lower(): c for i, c in enumerate(qa.choices)})
    rec["correct"] = qa.answer.lower()
    return rec


def multiple_choice(question: str, answer: str, distractors: Sequence[str], **fields) -> QAPair | None:
    """A multiple-choice pair with the correct option first (letters are dealt later by shuffle_options); None
    unless there are three distinct distractors different from the answer."""
    ds: list[str] = []
    for d in distractors:
        if d != answer and d not in ds:
            ds.append(d)
    if len(ds) < 3:
        return None
    return QAPair(question=question, answer="A", choices=[answer, *ds[:3]], format="multiple_choice", **fields)


def count_options(n: int, lowest: int = 0) -> tuple[str, list[str]]:
    """(answer, distractors) of a count asked as multiple choice: the options are the block of four consecutive
    counts the answer falls in (lowest..lowest+3, lowest+4..lowest+7, ...). Only the block depends on the answer
    (how large, never which): within a block every count is a priori as likely, so a model that does not look can
    only guess among the four. A short numeric answer could not be balanced across splits by scenario (a held-out
    scenario's 7 cars were never a training answer); four options give a chance rate of 1/4 everywhere."""
    if n < lowest:
        raise ValueError(f"count_options: count {n} is below the lowest possible count {lowest}")
    start = lowest + 4 * ((n - lowest) // 4)
    return str(n), [str(v) for v in range(start, start + 4) if v != n]


def shuffle_options(qas: Iterable[QAPair], seed) -> list[QAPair]:
    """Deal the letters of every multiple-choice pair built by `multiple_choice` (correct option first): per
    template, in order of the pairs' ids, the k-th correct letter is perm[(k + offset) % 4] with perm and offset
    drawn from (seed, template); the distractors keep their relative order drawn from the pair's id. Other pairs
    are returned unchanged. Deterministic."""
    qas = list(qas)
    by_template: dict[str, list[int]] = defaultdict(list)
    for i, qa in enumerate(qas):
        if qa.format == "multiple_choice" and len(qa.choices) == 4 and qa.answer == "A":
            by_template[qa.template or qa.kind].append(i)
    out = list(qas)
    for template, idx in by_template.items():
        rng = np.random.default_rng(stable_seed(seed, "letters", template))
        perm, offset = rng.permutation(4), int(rng.integers(4))
        for k, i in enumerate(sorted(idx, key=lambda j: (qas[j].id, j))):
            qa = qas[i]
            pos = int(perm[(k + offset) % 4])
            drng = np.random.default_rng(stable_seed(seed, "distractors", qa.id, qa.question))
            rest = [qa.choices[1 + j] for j in drng.permutation(3)]
            choices = rest[:pos] + [qa.choices[0]] + rest[pos:]
            out[i] = qa.model_copy(update={"choices": choices, "answer": LETTERS[pos]})
    return out


def correct_text(qa) -> str:
    """The answer as text (QAPair or its dict): the correct option's text for multiple choice, else the answer."""
    choices = qa.get("choices") if isinstance(qa, dict) else qa.choices
    answer = str(qa["answer"] if isinstance(qa, dict) else qa.answer)
    if choices and answer in LETTERS[: len(choices)]:
        return choices[LETTERS.index(answer)]
    return answer
