"""load_text_files: CSV, TSV, JSONL, text files and class folders written
in tmp_path, and every bad-input error."""

import csv
import json

import numpy as np
import pytest

from keras_bigbird.data import load_text_files
from keras_bigbird.preprocessing import BlockPacker
from tests.data.conftest import expected_ids
from tests.data.conftest import unbatch
from tests.preprocessing import synthetic_text

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def texts(words):
    # Document 3 is longer than csv's default 128 KiB field limit.
    lengths = [40, 900, 2500, 22000, 300, 75, 1200, 10]
    return synthetic_text.documents(lengths, words, seed=9, first_mark=0)


@pytest.fixture()
def packer(tokenizer):
    return BlockPacker.from_tokenizer(tokenizer, 4096, block_size=64)


def write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerows(rows)
    return path


def write_jsonl(path, rows):
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def marks_and_labels(batches, tokenizer, texts):
    want = expected_ids(tokenizer, texts, 4094)
    result = {}
    for mark, ids, label, _ in unbatch(batches, tokenizer):
        np.testing.assert_array_equal(ids, want[mark])
        result[mark] = label
    return result


def test_csv_with_integer_labels(tmp_path, tokenizer, packer, texts):
    assert len(texts[3]) > 131072
    rows = [["id", "body", "stars"]] + [
        [i, t, i % 4] for i, t in enumerate(texts)
    ]
    path = write_csv(tmp_path / "data.csv", rows)
    batches, info = load_text_files(
        path,
        tokenizer=tokenizer,
        packer=packer,
        text_column="body",
        label_column="stars",
        num_classes=5,
        batch_size=3,
        with_info=True,
    )
    assert marks_and_labels(batches, tokenizer, texts) == {
        i: i % 4 for i in range(8)
    }
    assert (info.task, info.num_classes, info.label_names) == (
        "classification",
        5,
        None,
    )


def test_tsv_and_jsonl_with_named_labels(tmp_path, tokenizer, packer, texts):
    names = ["neg", "pos", "mixed"]
    rows = [{"text": t, "label": names[i % 3]} for i, t in enumerate(texts)]
    jsonl = write_jsonl(tmp_path / "data.jsonl", rows)
    batches, info = load_text_files(
        jsonl, tokenizer=tokenizer, packer=packer, with_info=True
    )
    # Names sorted: mixed=0, neg=1, pos=2.
    assert info.label_names == ("mixed", "neg", "pos") and info.num_classes == 3
    expected = {i: sorted(names).index(names[i % 3]) for i in range(8)}
    assert marks_and_labels(batches, tokenizer, texts) == expected
    tsv = write_csv(
        tmp_path / "data.tsv",
        [["text", "label"]] + [[r["text"], r["label"]] for r in rows],
        delimiter="\t",
    )
    batches, info = load_text_files(
        tsv,
        tokenizer=tokenizer,
        packer=packer,
        label_names=names,
        with_info=True,
    )
    assert info.label_names == tuple(names)
    assert marks_and_labels(batches, tokenizer, texts) == {
        i: i % 3 for i in range(8)
    }


def test_class_folders_single_files_and_no_labels(
    tmp_path, tokenizer, packer, texts
):
    for i, text in enumerate(texts):
        folder = tmp_path / "train" / ("pos" if i % 2 else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    batches, info = load_text_files(
        tmp_path / "train", tokenizer=tokenizer, packer=packer, with_info=True
    )
    assert info.label_names == ("neg", "pos")
    assert marks_and_labels(batches, tokenizer, texts) == {
        i: i % 2 for i in range(8)
    }
    single = load_text_files(
        [
            tmp_path / "train" / "neg" / "0.txt",
            tmp_path / "train" / "pos" / "1.txt",
        ],
        tokenizer=tokenizer,
        packer=packer,
    )
    assert marks_and_labels(single, tokenizer, texts) == {0: None, 1: None}
    rows = [["text"]] + [[t] for t in texts]
    unlabelled = load_text_files(
        write_csv(tmp_path / "u.csv", rows),
        tokenizer=tokenizer,
        packer=packer,
        label_column=None,
    )
    assert marks_and_labels(unlabelled, tokenizer, texts) == dict.fromkeys(
        range(8)
    )


def test_seeded_shuffle_is_deterministic(tmp_path, tokenizer, packer, texts):
    rows = [["text", "label"]] + [[t, 0] for t in texts]
    path = write_csv(tmp_path / "data.csv", rows)

    def marks(seed):
        batches = load_text_files(
            path,
            tokenizer=tokenizer,
            packer=packer,
            batch_size=1,
            shuffle=True,
            seed=seed,
        )
        return [mark for mark, _, _, _ in unbatch(batches, tokenizer)]

    first = marks(1)
    assert sorted(first) == list(range(8))
    assert marks(1) == first
    assert marks(2) != first


def test_missing_columns(tmp_path, tokenizer, packer):
    path = write_csv(tmp_path / "data.csv", [["body", "stars"], ["a b", 1]])
    with pytest.raises(
        ValueError,
        match=r"`text_column`.*data\.csv has no such column \(it has \['body', 'stars'\]\).*text_column='text'",
    ):
        load_text_files(path, tokenizer=tokenizer, packer=packer)
    with pytest.raises(
        ValueError, match=r"`label_column`.*label_column='label'"
    ):
        load_text_files(
            path, tokenizer=tokenizer, packer=packer, text_column="body"
        )
    jsonl = write_jsonl(
        tmp_path / "d.jsonl", [{"text": "a"}, {"body": "b", "label": 0}]
    )
    with pytest.raises(
        ValueError,
        match=r"`text_column`.*d\.jsonl line 2 has no such column.*text_column='text'",
    ):
        load_text_files(
            jsonl, tokenizer=tokenizer, packer=packer, label_column=None
        )


def test_label_errors(tmp_path, tokenizer, packer, texts):
    path = write_csv(
        tmp_path / "data.csv", [["text", "label"], [texts[0], 1], [texts[1], 7]]
    )
    with pytest.raises(
        ValueError,
        match=r"label out of range \[0, num_classes=3\) in .*data\.csv row 2 "
        r"\(line 5\)\. .*label='7'",
    ):
        load_text_files(path, tokenizer=tokenizer, packer=packer, num_classes=3)
    negative = write_csv(
        tmp_path / "n.csv", [["text", "label"], [texts[0], -1]]
    )
    with pytest.raises(
        ValueError,
        match=r"label out of range non-negative .*n\.csv row 1.*label='-1'",
    ):
        load_text_files(negative, tokenizer=tokenizer, packer=packer)
    named = write_jsonl(
        tmp_path / "l.jsonl", [{"text": texts[0], "label": "spam"}]
    )
    with pytest.raises(
        ValueError,
        match=r"label out of range in .*l\.jsonl line 1: it is not in `label_names`=\['ham'\].*label='spam'",
    ):
        load_text_files(
            named, tokenizer=tokenizer, packer=packer, label_names=["ham"]
        )
    blank = write_csv(tmp_path / "b.csv", [["text", "label"], [texts[0], ""]])
    with pytest.raises(
        ValueError, match=r"missing label in .*b\.csv row 1.*label=''"
    ):
        load_text_files(blank, tokenizer=tokenizer, packer=packer)


def test_empty_documents(tmp_path, tokenizer, packer, texts):
    for bad, message in (
        (" \n\t ", "an empty document"),
        ("\u200b", "a document that tokenizes to no ids"),
    ):
        rows = [["text", "label"], [texts[0], 0], [bad, 1], [texts[1], 0]]
        path = write_csv(tmp_path / "data.csv", rows)
        with pytest.raises(
            ValueError,
            match=message + r" in .*data\.csv row 2 .*skip_empty=True.*text=",
        ):
            load_text_files(path, tokenizer=tokenizer, packer=packer)
        kept = load_text_files(
            path, tokenizer=tokenizer, packer=packer, skip_empty=True
        )
        assert marks_and_labels(kept, tokenizer, texts) == {0: 0, 1: 0}


def test_path_and_format_errors(tmp_path, tokenizer, packer):
    missing = tmp_path / "nope.csv"
    with pytest.raises(
        ValueError, match=r"`path`: it does not exist.*nope\.csv"
    ):
        load_text_files(missing, tokenizer=tokenizer, packer=packer)
    with pytest.raises(ValueError, match=r"`file_format`.*file_format='xml'"):
        load_text_files(
            missing, tokenizer=tokenizer, packer=packer, file_format="xml"
        )
    header_only = write_csv(tmp_path / "h.csv", [["text", "label"]])
    with pytest.raises(ValueError, match=r"`path`: it holds no documents"):
        load_text_files(header_only, tokenizer=tokenizer, packer=packer)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": 0}\n{"text": \n')
    with pytest.raises(
        ValueError, match=r"invalid JSON line in .*broken\.jsonl line 2"
    ):
        load_text_files(broken, tokenizer=tokenizer, packer=packer)


def test_hidden_folders_are_not_classes(tmp_path, tokenizer, packer, texts):
    # Jupyter leaves `.ipynb_checkpoints` next to the class folders; as a
    # class it would sort first and shift every label by one.
    for i, text in enumerate(texts[:4]):
        for name in ("pos" if i % 2 else "neg", ".ipynb_checkpoints"):
            folder = tmp_path / "train" / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    batches, info = load_text_files(
        tmp_path / "train", tokenizer=tokenizer, packer=packer, with_info=True
    )
    assert (info.label_names, info.num_classes) == (("neg", "pos"), 2)
    assert marks_and_labels(batches, tokenizer, texts) == {
        i: i % 2 for i in range(4)
    }


def test_class_folders_with_label_column_none_are_unlabelled(
    tmp_path, tokenizer, packer, texts
):
    for i, text in enumerate(texts[:4]):
        folder = tmp_path / "train" / ("pos" if i % 2 else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    batches, info = load_text_files(
        tmp_path / "train",
        tokenizer=tokenizer,
        packer=packer,
        label_column=None,
        with_info=True,
    )
    assert (info.task, info.num_classes, info.label_names) == (None,) * 3
    assert marks_and_labels(batches, tokenizer, texts) == dict.fromkeys(
        range(4)
    )


def test_integer_valued_text_labels_match_json_numbers(
    tmp_path, tokenizer, packer, texts
):
    # "2.0" in a CSV is the JSON number 2.0: class 2, not the name "2.0"
    # sorted as text after "10.0".
    raw = [2.0, 10.0, 1.0, 0.0]
    csv_path = write_csv(
        tmp_path / "data.csv",
        [["text", "label"]] + [[t, f"{r:.1f}"] for t, r in zip(texts, raw)],
    )
    jsonl = write_jsonl(
        tmp_path / "data.jsonl",
        [{"text": t, "label": r} for t, r in zip(texts, raw)],
    )
    results = []
    for path in (csv_path, jsonl):
        batches, info = load_text_files(
            path, tokenizer=tokenizer, packer=packer, with_info=True
        )
        results.append(
            (
                marks_and_labels(batches, tokenizer, texts),
                info.label_names,
                info.num_classes,
            )
        )
    expected = ({0: 2, 1: 10, 2: 1, 3: 0}, None, 11)
    assert results == [expected, expected]
    # Text that is not an integer-valued number stays a name.
    mixed = write_csv(
        tmp_path / "m.csv",
        [["text", "label"], [texts[0], "2.5"], [texts[1], "1"]],
    )
    _, info = load_text_files(
        mixed, tokenizer=tokenizer, packer=packer, with_info=True
    )
    assert info.label_names == ("1", "2.5")


def test_byte_order_mark(tmp_path, tokenizer, packer, texts):
    # Excel writes "UTF-8 CSV" with a byte-order mark before the header.
    rows = [["text", "label"], [texts[0], 1], [texts[1], 0]]
    with open(
        tmp_path / "excel.csv", "w", newline="", encoding="utf-8-sig"
    ) as f:
        csv.writer(f).writerows(rows)
    batches = load_text_files(
        tmp_path / "excel.csv", tokenizer=tokenizer, packer=packer
    )
    assert marks_and_labels(batches, tokenizer, texts) == {0: 1, 1: 0}
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_text(
        json.dumps({"text": texts[0], "label": 1}) + "\n", encoding="utf-8-sig"
    )
    batches = load_text_files(jsonl, tokenizer=tokenizer, packer=packer)
    assert marks_and_labels(batches, tokenizer, texts) == {0: 1}
