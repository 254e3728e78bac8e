"""load_long_text through the real tfds.load, mocked by
tfds.testing.mock_data with long generated documents."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_bigbird.data import load_long_text
from keras_bigbird.data import padding_efficiency
from keras_bigbird.data import supported_datasets
from keras_bigbird.data.load_long_text import CPC_SECTIONS
from keras_bigbird.preprocessing import BlockPacker
from tests.data.conftest import expected_ids
from tests.data.conftest import unbatch
from tests.preprocessing import synthetic_text

pytestmark = pytest.mark.tf_only

PER_CONFIG = 16
# Configs get disjoint marks: document i of config c is `d<100 c + i>`.
CONFIG_INDEX = {"plain_text": 0, "arxiv": 1, "pubmed": 2, "all": 3}
CONFIG_INDEX.update({s: 4 + i for i, s in enumerate(CPC_SECTIONS)})


def generated(config, words):
    """The fake split of one config: texts, labels, abstracts."""
    first = 100 * CONFIG_INDEX[config]
    lengths = synthetic_text.log_uniform_lengths(
        PER_CONFIG, 200, 3000, seed=first
    )
    texts = synthetic_text.documents(
        lengths, words, seed=first, first_mark=first
    )
    abstracts = [" ".join(["word"] * (3 * i + 1)) for i in range(PER_CONFIG)]
    return texts, abstracts


@pytest.fixture()
def fake_tfds(words):
    """Mocks tfds.load's data (not its code path); records each call.

    mock_data reads the metadata from its own folder, whatever `data_dir`;
    the unmocked test below shows `data_dir` reaching tfds.load.
    """
    calls = []

    def as_dataset(
        self, split, decoders=None, read_config=None, shuffle_files=False
    ):
        config = self.builder_config.name
        calls.append(
            dict(
                name=f"{self.name}/{config}",
                split=str(split),
                shuffle_files=shuffle_files,
                shuffle_seed=read_config.shuffle_seed,
            )
        )
        texts, abstracts = generated(config, words)
        keys = set(self.info.features.keys())
        if keys == {"text", "label"}:
            labels = np.arange(PER_CONFIG) % 2
            if "unsupervised" in str(split):
                labels = np.full(PER_CONFIG, -1)
            features = {"text": texts, "label": labels.astype(np.int64)}
        elif keys == {"article", "abstract", "section_names"}:
            features = {
                "article": texts,
                "abstract": abstracts,
                "section_names": ["introduction\nmethods\nresults"]
                * PER_CONFIG,
            }
        else:
            assert keys == {"description", "abstract"}, keys
            features = {"description": texts, "abstract": abstracts}
        return tf.data.Dataset.from_tensor_slices(features)

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        yield calls


def load(name, tokenizer, tmp_path, **kwargs):
    packer = BlockPacker.from_tokenizer(tokenizer, 1024, block_size=64)
    return load_long_text(
        name,
        tokenizer=tokenizer,
        packer=packer,
        data_dir=str(tmp_path / "tfds"),
        download=False,
        **kwargs,
    )


def check_documents(batches, tokenizer, configs, words):
    """Each document of `configs` once, with its ids; returns marks->label."""
    texts = {}
    for config in configs:
        first = 100 * CONFIG_INDEX[config]
        for i, text in enumerate(generated(config, words)[0]):
            texts[first + i] = text
    want = dict(zip(texts, expected_ids(tokenizer, list(texts.values()), 1022)))
    labels = {}
    for mark, ids, label, _ in unbatch(batches, tokenizer):
        np.testing.assert_array_equal(ids, want[mark])
        assert mark not in labels
        labels[mark] = label
    assert sorted(labels) == sorted(texts)
    return labels


def test_imdb_reviews_sentiment(fake_tfds, tokenizer, words, tmp_path):
    batches, info = load(
        "imdb_reviews",
        tokenizer,
        tmp_path,
        split="train",
        seed=3,
        with_info=True,
    )
    labels = check_documents(batches, tokenizer, ["plain_text"], words)
    assert {mark: label for mark, label in labels.items()} == {
        mark: mark % 2 for mark in labels
    }
    assert (info.task, info.num_classes, info.label_names) == (
        "sentiment",
        2,
        ("neg", "pos"),
    )
    call = fake_tfds[0]
    assert (
        call["name"] == "imdb_reviews/plain_text" and call["split"] == "train"
    )
    assert call["shuffle_files"] is True and call["shuffle_seed"] == 3
    assert padding_efficiency(batches) > 0.8


@pytest.mark.parametrize(
    "name",
    [
        "scientific_papers/arxiv",
        "scientific_papers/pubmed",
        "big_patent/a",
        "big_patent/all",
    ],
)
def test_abstract_length_regression(
    fake_tfds, tokenizer, words, tmp_path, name
):
    config = name.split("/")[1]
    batches, info = load(
        name, tokenizer, tmp_path, split="test", with_info=True
    )
    labels = check_documents(batches, tokenizer, [config], words)
    first = 100 * CONFIG_INDEX[config]
    for mark, label in labels.items():
        words_in_abstract = 3 * (mark - first) + 1
        assert label == pytest.approx(np.log1p(words_in_abstract))
        assert label.dtype == np.float32
    assert info.task == "abstract_length" and info.num_classes is None
    assert (
        fake_tfds[0]["name"] == name and fake_tfds[0]["shuffle_files"] is False
    )


@pytest.mark.parametrize(
    "name, configs, task",
    [
        ("big_patent", CPC_SECTIONS, "cpc_section"),
        ("scientific_papers", ("arxiv", "pubmed"), "source"),
    ],
)
def test_classification_across_configs(
    fake_tfds, tokenizer, words, tmp_path, name, configs, task
):
    batches, info = load(
        name, tokenizer, tmp_path, split="train[:50%]", seed=0, with_info=True
    )
    labels = check_documents(batches, tokenizer, configs, words)
    for mark, label in labels.items():
        config = next(c for c in configs if CONFIG_INDEX[c] == mark // 100)
        assert label == configs.index(config)
    assert info.task == task and info.label_names == tuple(configs)
    assert [c["name"] for c in fake_tfds] == [f"{name}/{c}" for c in configs]
    assert {c["split"] for c in fake_tfds} == {"train[:50%]"}


def test_unlabelled_split_and_same_seed(fake_tfds, tokenizer, words, tmp_path):
    with pytest.raises(
        ValueError, match=r"`split`.*no labels.*task=None.*split='unsupervised'"
    ):
        load("imdb_reviews", tokenizer, tmp_path, split="unsupervised")
    batches = load(
        "imdb_reviews", tokenizer, tmp_path, split="unsupervised", task=None
    )
    assert all(isinstance(b, dict) for b in batches)
    assert len(list(unbatch(batches, tokenizer))) == PER_CONFIG

    def marks(seed):
        batches = load(
            "imdb_reviews",
            tokenizer,
            tmp_path,
            seed=seed,
            shuffle_buffer_size=8,
        )
        return [mark for mark, _, _, _ in unbatch(batches, tokenizer)]

    assert marks(5) == marks(5)
    assert marks(5) != marks(6)


def test_name_and_task_errors(tokenizer, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"`name`, expected one of \[.*'big_patent/y'\]. Received: name='wikipedia'",
    ):
        load("wikipedia", tokenizer, tmp_path)
    with pytest.raises(
        ValueError, match=r"`name`.*Received: name='big_patent/zz'"
    ):
        load("big_patent/zz", tokenizer, tmp_path)
    with pytest.raises(
        ValueError,
        match=r"`task` for 'imdb_reviews'.*\['sentiment', None\].*task='topic'",
    ):
        load("imdb_reviews", tokenizer, tmp_path, task="topic")
    assert "scientific_papers/pubmed" in supported_datasets()


def test_the_real_tfds_load_runs_without_data(tokenizer, tmp_path):
    # Nothing mocked: tfds.load looks in our data_dir, finds nothing and,
    # with download=False, says so.
    data_dir = str(tmp_path / "tfds")
    with pytest.raises(
        AssertionError, match="could not find data in " + data_dir
    ):
        load("imdb_reviews", tokenizer, tmp_path)
