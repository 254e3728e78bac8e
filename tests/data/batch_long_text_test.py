"""batch_long_text: contents, block-multiple widths, bucketing efficiency,
seeded determinism, bad documents and labels."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.data import batch_long_text
from keras_bigbird.data import padding_efficiency
from keras_bigbird.preprocessing import BlockPacker
from tests.data.conftest import assert_block_padded
from tests.data.conftest import expected_ids
from tests.data.conftest import unbatch
from tests.preprocessing import synthetic_text

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def long_documents(words):
    lengths = synthetic_text.log_uniform_lengths(320, 20, 3800, seed=5)
    return synthetic_text.documents(lengths, words, seed=5, first_mark=0)


def test_every_document_once_with_its_ids_and_label(tokenizer, long_documents):
    texts = long_documents[:120]
    packer = BlockPacker.from_tokenizer(tokenizer, 1024, block_size=64)
    dataset = tf.data.Dataset.from_tensor_slices((texts, np.arange(120) % 3))
    batches = batch_long_text(dataset, tokenizer, packer, batch_size=8)
    want = expected_ids(tokenizer, texts, 1022)
    seen = []
    for mark, ids, label, inputs in unbatch(batches, tokenizer):
        np.testing.assert_array_equal(ids, want[mark])
        assert label == mark % 3
        assert_block_padded(inputs, 64)
        # One bucket a batch: all rows need the same number of blocks.
        blocks = (inputs["padding_mask"].numpy().sum(axis=1) - 1) // 64
        assert len(set(blocks)) == 1
        seen.append(mark)
    assert sorted(seen) == list(range(120))


def test_bucketing_beats_padding_to_the_maximum(tokenizer, long_documents):
    dataset = tf.data.Dataset.from_tensor_slices(long_documents)
    packer = BlockPacker.from_tokenizer(tokenizer, 4096, block_size=64)
    to_max = BlockPacker.from_tokenizer(
        tokenizer, 4096, block_size=64, padding="max_length"
    )

    def efficiency(packer, bucketing):
        return padding_efficiency(
            batch_long_text(
                dataset, tokenizer, packer, batch_size=8, bucketing=bucketing
            )
        )

    bucketed = efficiency(packer, True)
    longest = efficiency(packer, False)
    maximum = efficiency(to_max, False)
    # Padding to the maximum: the mean packed length over 4096, exactly.
    lengths = tokenizer(long_documents).row_lengths().numpy()
    packed = np.minimum(lengths + 2, 4096)
    assert maximum == pytest.approx(packed.sum() / (len(packed) * 4096))
    assert maximum < 0.35
    assert bucketed > 0.9
    assert bucketed > 2.5 * maximum
    assert maximum < longest < bucketed


def test_wider_buckets_trade_padding_for_fewer_buckets(
    tokenizer, long_documents
):
    dataset = tf.data.Dataset.from_tensor_slices(long_documents[:160])
    packer = BlockPacker.from_tokenizer(tokenizer, 4096, block_size=64)
    narrow = batch_long_text(dataset, tokenizer, packer, bucket_width=64)
    wide = batch_long_text(dataset, tokenizer, packer, bucket_width=1024)
    widths = set()
    for _, _, _, inputs in unbatch(wide, tokenizer):
        assert_block_padded(inputs, 64)
        lengths = inputs["padding_mask"].numpy().sum(axis=1)
        assert len(set((lengths - 1) // 1024)) == 1
        widths.add(inputs["token_ids"].shape[1])
    assert len(widths) > 4  # still padded to the batch, not to the bucket
    assert padding_efficiency(narrow) > padding_efficiency(wide)


def marks_in_order(batches, tokenizer):
    return [mark for mark, _, _, _ in unbatch(batches, tokenizer)]


def test_same_seed_same_batches(tokenizer, long_documents):
    texts = long_documents[:64]
    packer = BlockPacker.from_tokenizer(tokenizer, 512, block_size=32)

    def run(seed):
        dataset = tf.data.Dataset.from_tensor_slices(texts)
        return batch_long_text(
            dataset,
            tokenizer,
            packer,
            batch_size=4,
            shuffle=True,
            shuffle_buffer_size=64,
            seed=seed,
        )

    first, again, other = run(7), run(7), run(8)
    order = marks_in_order(first, tokenizer)
    assert sorted(order) == list(range(64))
    assert marks_in_order(again, tokenizer) == order
    assert marks_in_order(other, tokenizer) != order
    # Each epoch is reshuffled, and deterministically so.
    second_epoch = marks_in_order(first, tokenizer)
    assert second_epoch != order and sorted(second_epoch) == sorted(order)
    assert marks_in_order(again, tokenizer) == second_epoch
    for a, b in zip(run(7), run(7)):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_unlabelled_and_pre_tokenized(tokenizer, long_documents):
    texts = long_documents[:20]
    packer = BlockPacker.from_tokenizer(tokenizer, 256, block_size=32)
    from_text = list(
        batch_long_text(
            tf.data.Dataset.from_tensor_slices(texts), tokenizer, packer
        )
    )
    ids = tf.data.Dataset.from_tensor_slices(tokenizer(texts))
    from_ids = list(batch_long_text(ids, None, packer))
    assert all(isinstance(b, dict) for b in from_text)
    assert len(from_text) == len(from_ids)
    for a, b in zip(from_text, from_ids):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_empty_documents_stop_or_are_skipped(tokenizer, long_documents):
    packer = BlockPacker.from_tokenizer(tokenizer, 256, block_size=32)
    cases = {
        "  \n\t": "empty document",
        "\u200b": "tokenizes to no ids",
    }
    for bad, message in cases.items():
        texts = long_documents[:5] + [bad] + long_documents[5:9]
        dataset = tf.data.Dataset.from_tensor_slices(texts)
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            list(batch_long_text(dataset, tokenizer, packer, bucketing=False))
        kept = batch_long_text(dataset, tokenizer, packer, skip_empty=True)
        assert sorted(marks_in_order(kept, tokenizer)) == list(range(9))


def test_labels_out_of_range_stop(tokenizer, long_documents):
    packer = BlockPacker.from_tokenizer(tokenizer, 256, block_size=32)
    dataset = tf.data.Dataset.from_tensor_slices(
        (long_documents[:6], [0, 1, 2, 1, 0, 1])
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"label out of range \[0, num_classes=2\)",
    ):
        list(batch_long_text(dataset, tokenizer, packer, num_classes=2))
    assert (
        len(list(batch_long_text(dataset, tokenizer, packer, num_classes=3)))
        > 0
    )


def test_argument_errors(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(["a"])
    packer = BlockPacker.from_tokenizer(tokenizer, 256, block_size=32)
    with pytest.raises(
        ValueError, match=r"`packer`.*BlockPacker.*packer='packer'"
    ):
        batch_long_text(dataset, tokenizer, "packer")
    with pytest.raises(
        ValueError, match=r"`bucket_width`.*block_size=32.*bucket_width=48"
    ):
        batch_long_text(dataset, tokenizer, packer, bucket_width=48)
    with pytest.raises(ValueError, match=r"`batch_size`.*batch_size=0"):
        batch_long_text(dataset, tokenizer, packer, batch_size=0)
    with pytest.raises(ValueError, match=r"`num_classes`.*num_classes=0"):
        batch_long_text(dataset, tokenizer, packer, num_classes=0)
    triples = tf.data.Dataset.from_tensor_slices((["a"], [1], [2]))
    with pytest.raises(ValueError, match=r"`dataset`.*\(text, label\)"):
        batch_long_text(triples, tokenizer, packer)


def test_element_structure_errors(tokenizer):
    # Raw TFDS features are dicts: say so here, not deep in the tokenizer.
    packer = BlockPacker.from_tokenizer(tokenizer, 256, block_size=32)
    features = tf.data.Dataset.from_tensor_slices(
        {"text": ["a b", "c"], "label": [0, 1]}
    )
    with pytest.raises(
        ValueError,
        match=r"(?s)argument `dataset`, expected elements `text` or "
        r"`\(text, label\)`.*scalar string.*dicts.*as_supervised=True.*"
        r"Received: element_spec=\{'text': TensorSpec.*'label': TensorSpec",
    ):
        batch_long_text(features, tokenizer, packer)
    pairs = tf.data.Dataset.from_tensor_slices(({"text": ["a b"]}, [0]))
    with pytest.raises(ValueError, match=r"`dataset`.*dicts"):
        batch_long_text(pairs, tokenizer, packer)
    ids = tf.data.Dataset.from_tensor_slices([[5, 6], [7, 8]])
    with pytest.raises(
        ValueError,
        match=r"`dataset`.*`text` a scalar string.*"
        r"Received: element_spec=TensorSpec\(shape=\(2,\), dtype=tf.int32",
    ):
        batch_long_text(ids, tokenizer, packer)
    texts = tf.data.Dataset.from_tensor_slices(["a b", "c"])
    with pytest.raises(
        ValueError,
        match=r"`dataset`.*`ids` or `\(ids, label\)`.*1-D int.*"
        r"tokenizer=None.*dtype=tf.string",
    ):
        batch_long_text(texts, None, packer)
