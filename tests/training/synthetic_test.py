"""The generated task: lengths, the planted sentence's place, balanced
labels, and nothing but that sentence telling the labels apart."""

import csv

import pytest

from keras_bigbird.training import synthetic


def planted_at(text):
    words = text.replace("\n", " ").split()
    words = [w for w in words if w != "."]  # sentence ends are not words
    start = " ".join(words).index(synthetic.TEMPLATE.split("{}")[0])
    return len(" ".join(words)[:start].split()), words


def test_documents_and_planted_sentence():
    texts, labels = synthetic.planted_sentence_task(60, seed=3, vocabulary=500)
    assert sorted(labels) == ["negative"] * 30 + ["positive"] * 30
    for text, label in zip(texts, labels):
        at, words = planted_at(text)
        filler = len(words) - len(synthetic.TEMPLATE.split()) + 1
        assert 300 <= filler <= 3000
        assert 200 <= at <= min(700, filler)
        adjective = words[at + len(synthetic.TEMPLATE.split()) - 2]
        assert adjective in synthetic.ADJECTIVES[label]
        others = {w for l in synthetic.LABELS for w in synthetic.ADJECTIVES[l]}
        assert sum(w in others for w in words) == 1  # only the planted one


def test_deterministic_and_written_as_csv(tmp_path):
    small = dict(vocabulary=500)  # the default 20000 words take seconds
    assert synthetic.planted_sentence_task(5, seed=1, **small) == (
        synthetic.planted_sentence_task(5, seed=1, **small)
    )
    assert synthetic.planted_sentence_task(5, seed=2, **small) != (
        synthetic.planted_sentence_task(5, seed=1, **small)
    )
    path = synthetic.write_csv(tmp_path / "a" / "task.csv", 4, seed=1, **small)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    texts, labels = synthetic.planted_sentence_task(4, seed=1, **small)
    assert [r["text"] for r in rows] == texts
    assert [r["label"] for r in rows] == labels


@pytest.mark.parametrize(
    "options, message",
    [
        ({"count": 0}, "count=0"),
        ({"count": 2, "words": (100, 50)}, "words=\\(100, 50\\)"),
        ({"count": 2, "position": (400, 700)}, "position=\\(400, 700\\)"),
    ],
)
def test_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        synthetic.planted_sentence_task(**options)
