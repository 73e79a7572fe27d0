"""Dataset-level answer hygiene (sdg.som.balance) and the text-only baselines that measure it (sdg.som.baselines)."""
from __future__ import annotations

from collections import Counter

import numpy as np

from sdg.som.balance import balance_keys, chance_of, lower_mark_policy, question_marks, select_balanced
from sdg.som.baselines import blind_policy_report, text_only_report


def q(i, template, answer, question="Q?", split="train", topic="", choices=None, kind=None):
    return {"id": f"q{i}", "template": template, "kind": kind or template, "answer": answer, "question": question,
            "split": split, "topic": topic, "choices": choices or []}


def test_yes_no_is_cut_to_equal_counts_per_template_topic_and_split():
    qs = [q(i, "existence", "yes" if i % 3 else "no", topic="car" if i < 40 else "bus",
            split=("train", "test")[(i // 7) % 2])
          for i in range(80)]
    kept = select_balanced(qs, seed=1)
    groups = Counter((x["split"], x["topic"], x["answer"]) for x in kept)
    for split in ("train", "test"):
        for topic in ("car", "bus"):
            assert groups[(split, topic, "yes")] == groups[(split, topic, "no")] > 0
    assert all(x in qs for x in kept)  # answers are never changed, only questions left out
    assert select_balanced(qs, seed=1) == kept and select_balanced(qs, seed=2) != kept


def test_a_template_with_a_single_answer_is_dropped():
    qs = [q(i, "existence", "no", topic="bus") for i in range(10)] + [q(10 + i, "count", "2") for i in range(5)]
    assert select_balanced(qs) == []


def test_multi_valued_answers_become_uniform_over_their_top_values():
    answers = ["2"] * 40 + ["3"] * 20 + ["4"] * 18 + ["5"] * 3
    kept = select_balanced([q(i, "count", a) for i, a in enumerate(answers)])
    c = Counter(x["answer"] for x in kept)
    assert c == {"2": 18, "3": 18, "4": 18}  # j = 3 keeps the most (3 x 18 > 2 x 20 > 4 x 3)
    assert chance_of(kept)[kept[0]["id"]] == 1 / 3


def test_multiple_choice_letters_and_option_texts_are_uniform():
    rng = np.random.default_rng(0)
    texts = ["turns left", "turns right", "goes straight", "stays stopped"]
    qs = []
    for i in range(400):
        correct = texts[int(rng.choice(4, p=[0.1, 0.1, 0.7, 0.1]))]  # a strong text prior
        letter = "ABCD"[int(rng.integers(4))]
        others = [t for t in texts if t != correct]
        choices = others[:"ABCD".index(letter)] + [correct] + others["ABCD".index(letter):]
        qs.append(q(i, "turn", letter, choices=choices))
    kept = select_balanced(qs)
    by_text = Counter(x["choices"]["ABCD".index(x["answer"])] for x in kept)
    by_letter = Counter(x["answer"] for x in kept)
    assert len(set(by_text.values())) == 1 and len(by_text) == 4
    assert len(set(by_letter.values())) == 1 and len(by_letter) == 4


def test_mark_answers_are_balanced_against_the_lower_mark_policy():
    rng = np.random.default_rng(1)
    qs = []
    for i in range(300):
        a, b = (int(x) for x in rng.choice(np.arange(1, 20), 2, replace=False))
        closer = bool(rng.integers(2))
        # a leaky generator: the lower mark is the nearer object 80 % of the time
        near = min(a, b) if rng.random() < 0.8 else max(a, b)
        ans = near if closer else (a + b - near)
        word = "closer to" if closer else "farther from"
        qs.append(q(i, "distance", str(ans), f"Which of the objects marked {a} and {b} is {word} the camera?"))
    before = blind_policy_report(qs)["distance"]["accuracy"]
    assert before > 0.7
    kept = select_balanced(qs)
    assert blind_policy_report(kept)["distance"]["accuracy"] == 0.5
    first = Counter(x["answer"] == str(question_marks(x["question"])[0]) for x in kept)
    assert first[True] == first[False]


def test_question_marks_and_policies():
    assert question_marks("Is there a car collision between vehicles with numeric IDs 12 and 3?") == [12, 3]
    assert question_marks("Which is closer to the camera: mark 4 or mark 9?") == [4, 9]
    assert question_marks("Of the marked objects 7 and 2, which one is closer to the camera?") == [7, 2]
    sp = {"template": "spatial", "question": "Is the object marked 3 to the left of the object marked 5?"}
    assert lower_mark_policy(sp) == "yes"
    sp["question"] = "In the image, is mark 3 on the right side of mark 5?"
    assert lower_mark_policy(sp) == "no"
    assert lower_mark_policy({"template": "faster", "question": "the car marked 9 or the bus marked 4?"}) == "4"
    assert balance_keys({"template": "spatial", "answer": "yes", "question": sp["question"]}) == \
        ["yes", "policy=False"]


def _leaky(n=400, seed=0):
    """Existence questions whose answer the category word gives away (buses never, cars always)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        noun, topic = [("a car", "car"), ("a bus", "bus"), ("a truck", "truck")][i % 3]
        ans = {"car": "yes", "bus": "no"}.get(topic, "yes" if rng.random() < 0.5 else "no")
        split = "train" if i % 4 else "test"
        out.append(q(i, "existence", ans, f"Is there {noun} in the image?", split=split, topic=topic))
    return out


def test_bag_of_words_catches_a_category_shortcut_and_balance_removes_it():
    leaky = _leaky()
    r = text_only_report(leaky)["by_kind"]["existence"]
    assert r["bow"] > 0.75 and r["chance"] == 0.5  # the shortcut is found
    fixed = text_only_report(select_balanced(leaky))["by_kind"]["existence"]
    assert abs(fixed["bow"] - 0.5) <= 0.1 and abs(fixed["majority"] - 0.5) <= 0.1


def test_option_text_prior_is_caught_by_the_option_scorer():
    rng = np.random.default_rng(2)
    texts = ["goes straight", "turns left", "turns right", "stays stopped"]
    qs = []
    for i in range(400):
        correct = "goes straight" if rng.random() < 0.8 else texts[1 + int(rng.integers(3))]
        pos = int(rng.integers(4))
        others = [t for t in texts if t != correct]
        qs.append(q(i, "turn", "ABCD"[pos], "What does the vehicle marked 3 do?", split="train" if i % 4 else "test",
                    choices=others[:pos] + [correct] + others[pos:]))
    r = text_only_report(qs)["by_template"]["turn"]
    assert r["majority"] < 0.4 and r["bow"] > 0.7  # letters are uniform, but the option text is not
    fixed = text_only_report(select_balanced(qs))["by_template"]["turn"]
    assert fixed["bow"] <= 0.4


def test_an_option_that_fits_the_question_wording_is_caught_by_the_crossed_features():
    """Letters and option texts uniform, but a two-mark question is always a two-party event: only a model that
    pairs question words with option words sees it (why sdg asks an object's event as yes/no per kind)."""
    rng = np.random.default_rng(4)
    pair, single = ["a collision", "a near miss"], ["a vehicle driving the wrong way", "a pedestrian jaywalking"]
    qs = []
    for i in range(800):
        two = bool(i % 2)
        correct = (pair if two else single)[int(rng.integers(2))]
        others = [t for t in pair + single if t != correct]
        others = [others[j] for j in rng.permutation(3)]
        pos = (i // 8) % 4
        question = "Which event involves the objects marked 3 and 5?" if two else \
            "Which event involves the object marked 3?"
        qs.append(q(i, "event_kind", "ABCD"[pos], question, split="train" if i % 8 > 1 else "test",
                    choices=others[:pos] + [correct] + others[pos:]))
    r = text_only_report(qs)["by_template"]["event_kind"]
    assert r["chance"] == 0.25 and r["majority"] <= 0.3
    assert r["bow"] > 0.4, r  # one of two options fits: ~0.5


def test_chance_of_open_answers_is_the_train_prior_not_one_over_the_held_out_answers():
    """Times never seen in training: a blind guesser scores ~0, not 1/3 (three distinct held-out times)."""
    train = [q(i, "event_start_time", a, "When does it start?") for i, a in enumerate(["0.4", "0.8", "1.2"] * 10)]
    test = [q(100 + i, "event_start_time", a, "When does it start?", split="test")
            for i, a in enumerate(["1.6", "2.0", "0.8"] * 10)]
    r = text_only_report(train + test)["by_template"]["event_start_time"]
    assert abs(r["chance"] - 1 / 9) < 1e-3  # a third of the held-out answers (0.8) is a train answer, 1/3 of train
    assert abs(r["chance_uniform"] - 1 / 3) < 1e-3
    assert r["majority"] in (0.0, round(1 / 3, 4))
