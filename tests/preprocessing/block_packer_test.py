"""BlockPacker: exact packing, truncation, block-multiple padding, pairs,
tf.data and tf.function with unknown shapes, errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer

pytestmark = pytest.mark.tf_only

CLS, SEP, PAD = 101, 102, 0


def packer(max_len=16, block=4, **kwargs):
    return BlockPacker(
        max_len, cls_id=CLS, sep_id=SEP, pad_id=PAD, block_size=block, **kwargs
    )


def expected_single(rows, max_len, block):
    """The packing spelled out in numpy, for any rows."""
    rows = [[CLS] + list(r[: max_len - 2]) + [SEP] for r in rows]
    width = -(-max(len(r) for r in rows) // block) * block
    ids = np.full((len(rows), width), PAD)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    mask = np.arange(width)[None] < np.array([len(r) for r in rows])[:, None]
    return ids, mask


def test_single_segments_pad_to_the_longest_rounded_to_a_block():
    out = packer()(tf.ragged.constant([[5, 6, 7], [8, 9, 10, 11, 12, 13]]))
    np.testing.assert_array_equal(
        out["token_ids"],
        [[CLS, 5, 6, 7, SEP, 0, 0, 0], [CLS, 8, 9, 10, 11, 12, 13, SEP]],
    )
    np.testing.assert_array_equal(
        out["padding_mask"], [[1, 1, 1, 1, 1, 0, 0, 0], [1] * 8]
    )
    np.testing.assert_array_equal(out["segment_ids"], np.zeros((2, 8)))
    assert (
        out["token_ids"].dtype == tf.int32
        and out["segment_ids"].dtype == tf.int32
    )
    assert out["padding_mask"].dtype == tf.bool
    # One more token crosses into a third block.
    longer = packer()(tf.ragged.constant([[5], [8, 9, 10, 11, 12, 13, 14]]))
    assert longer["token_ids"].shape == (2, 12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_batches_match_the_spelled_out_packing(seed):
    rng = np.random.default_rng(seed)
    rows = [
        rng.integers(1, 100, rng.integers(0, 90)).tolist() for _ in range(6)
    ]
    out = packer(max_len=64, block=8)(tf.ragged.constant(rows, dtype=tf.int32))
    ids, mask = expected_single(rows, 64, 8)
    np.testing.assert_array_equal(out["token_ids"], ids)
    np.testing.assert_array_equal(out["padding_mask"], mask)


def test_truncation_keeps_the_start_and_the_sep():
    out = packer(max_len=8)(tf.ragged.constant([list(range(1, 21))]))
    np.testing.assert_array_equal(
        out["token_ids"], [[CLS, 1, 2, 3, 4, 5, 6, SEP]]
    )
    assert out["padding_mask"].numpy().all()


def test_pair_waterfall_cuts_the_document_first():
    question, document = [[5, 6, 7]], [list(range(20, 40))]
    out = packer(max_len=12)(
        (tf.ragged.constant(question), tf.ragged.constant(document))
    )
    np.testing.assert_array_equal(
        out["token_ids"], [[CLS, 5, 6, 7, SEP, 20, 21, 22, 23, 24, 25, SEP]]
    )
    np.testing.assert_array_equal(out["segment_ids"], [[0] * 5 + [1] * 7])


def test_pair_round_robin_shares_the_budget():
    long_a, long_b = [list(range(1, 30))], [list(range(50, 80))]
    out = packer(max_len=16, truncation="round_robin")(
        (tf.ragged.constant(long_a), tf.ragged.constant(long_b))
    )
    segments = out["segment_ids"].numpy()[0]
    # 13 tokens of budget: 7 + 6, both cut from their ends.
    assert (segments == 0).sum() == 1 + 7 + 1 and (segments == 1).sum() == 6 + 1
    np.testing.assert_array_equal(out["token_ids"][0, 1:8], range(1, 8))
    np.testing.assert_array_equal(out["token_ids"][0, 9:15], range(50, 56))
    # A short question is kept whole and the document takes the rest.
    short = packer(max_len=16, truncation="round_robin")(
        (tf.ragged.constant([[5, 6]]), tf.ragged.constant(long_b))
    )
    np.testing.assert_array_equal(
        short["token_ids"][0], [CLS, 5, 6, SEP] + list(range(50, 61)) + [SEP]
    )


def test_max_length_padding_and_unbatched_and_dense_inputs():
    fixed = packer(padding="max_length")(tf.ragged.constant([[5, 6]]))
    assert fixed["token_ids"].shape == (1, 16)
    assert fixed["padding_mask"].numpy().sum() == 4
    single = packer()(tf.constant([5, 6, 7, 8, 9]))
    np.testing.assert_array_equal(
        single["token_ids"], [CLS, 5, 6, 7, 8, 9, SEP, 0]
    )
    assert single["padding_mask"].shape == (8,)
    dense = packer()(np.array([[5, 6], [7, 8]]))
    np.testing.assert_array_equal(
        dense["token_ids"], [[CLS, 5, 6, SEP], [CLS, 7, 8, SEP]]
    )
    listed = packer()([5, 6, 7])
    np.testing.assert_array_equal(
        listed["token_ids"], [CLS, 5, 6, 7, SEP, 0, 0, 0]
    )


def test_inside_dataset_map_on_ragged_batches():
    rng = np.random.default_rng(3)
    rows = [rng.integers(1, 100, n).tolist() for n in (3, 40, 7, 12, 30, 1, 9)]
    ds = tf.data.Dataset.from_tensor_slices(
        tf.ragged.constant(rows)
    ).ragged_batch(3)
    batches = list(ds.map(packer(max_len=32, block=8)))
    for batch, start in zip(batches, (0, 3, 6)):
        ids, mask = expected_single(rows[start : start + 3], 32, 8)
        np.testing.assert_array_equal(batch["token_ids"], ids)
        np.testing.assert_array_equal(batch["padding_mask"], mask)
    assert [b["token_ids"].shape[1] for b in batches] == [32, 32, 16]


def test_tokenizer_and_packer_in_one_tf_function_with_unknown_shapes():
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "."]
    tokenizer = WordPieceTokenizer(vocabulary)
    pack = BlockPacker.from_tokenizer(tokenizer, 32, block_size=4)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def preprocess(text):
        return pack(tokenizer(text))

    traced = preprocess.get_concrete_function().structured_outputs
    assert traced["token_ids"].shape.as_list() == [None, None]
    for texts in (["a b ."], ["a a a a a a", "b", "a . b . a"]):
        got = preprocess(tf.constant(texts))
        want = pack(tokenizer(texts))
        np.testing.assert_array_equal(got["token_ids"], want["token_ids"])
        np.testing.assert_array_equal(got["padding_mask"], want["padding_mask"])
    assert got["token_ids"].shape == (3, 8)


def test_from_tokenizer_and_config_round_trip():
    vocabulary = ["[UNK]", "[PAD]", "[SEP]", "[CLS]", "x"]
    tokenizer = WordPieceTokenizer(vocabulary, mask_token=None)
    pack = BlockPacker.from_tokenizer(
        tokenizer, 8, block_size=2, truncation="round_robin"
    )
    assert (pack.cls_id, pack.sep_id, pack.pad_id) == (3, 2, 1)
    config = pack.get_config()
    json.dumps(config)
    restored = BlockPacker.from_config(config)
    assert restored.get_config() == config
    np.testing.assert_array_equal(
        restored([4, 4, 4])["token_ids"], [3, 4, 4, 4, 2, 1]
    )


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"`max_sequence_length`.*multiple of `block_size`=64.*max_sequence_length=100",
    ):
        BlockPacker(100, cls_id=1, sep_id=2)
    with pytest.raises(ValueError, match=r"`truncation`.*truncation='left'"):
        packer(truncation="left")
    with pytest.raises(ValueError, match=r"`padding`.*padding='longest'"):
        packer(padding="longest")
    with pytest.raises(ValueError, match=r"`cls_id`.*cls_id=-1"):
        BlockPacker(64, cls_id=-1, sep_id=2)
    with pytest.raises(ValueError, match=r"`inputs`.*3 segments"):
        packer()((tf.constant([1]), tf.constant([2]), tf.constant([3])))
    with pytest.raises(
        ValueError, match=r"both be batched or both 1-D.*\[1, 2\]"
    ):
        packer()((tf.constant([1]), tf.ragged.constant([[2]])))
    tokenizer = WordPieceTokenizer(
        ["[UNK]", "[PAD]", "[SEP]", "x"], cls_token=None, mask_token=None
    )
    with pytest.raises(ValueError, match=r"`tokenizer`.*has no `cls_token`"):
        BlockPacker.from_tokenizer(tokenizer, 64)


def test_non_integer_ids_are_rejected():
    # A cast would turn 5.7 into id 5 without a word.
    for ids, dtype in (
        (tf.constant([[5.7, 6.2]]), "float32"),
        (tf.ragged.constant([[5.0], [6.0, 7.0]]), "float32"),
        (np.array([1.5, 2.0]), "float64"),
        ([[5.7], [6.0, 1.0]], "float32"),
        (tf.constant([["a"]]), "string"),
    ):
        with pytest.raises(
            ValueError,
            match=rf"argument `inputs`, expected integer token ids.*"
            rf"Received: inputs with dtype={dtype}",
        ):
            packer()(ids)
    with pytest.raises(ValueError, match=r"`inputs`.*dtype=float32"):
        packer()((tf.constant([[1, 2]]), tf.constant([[2.5]])))
    signature = [tf.RaggedTensorSpec([None, None], tf.float32)]
    with pytest.raises(ValueError, match=r"`inputs`.*dtype=float32"):
        tf.function(packer(), input_signature=signature).get_concrete_function()
    for ids in (np.array([[5, 6]], np.int64), tf.constant([[5, 6]], tf.uint8)):
        np.testing.assert_array_equal(
            packer()(ids)["token_ids"], [[CLS, 5, 6, SEP]]
        )


def test_a_tuple_of_lists_is_a_pair_and_a_list_of_lists_a_batch():
    # `([5, 6], [7, 8])` was read as one segment: a batch of two examples.
    pair = packer()(([5, 6], [7, 8]))
    np.testing.assert_array_equal(
        pair["token_ids"], [CLS, 5, 6, SEP, 7, 8, SEP, 0]
    )
    np.testing.assert_array_equal(
        pair["segment_ids"], [0, 0, 0, 0, 1, 1, 1, 0]
    )
    batch = packer()([[5, 6], [7, 8]])
    np.testing.assert_array_equal(
        batch["token_ids"], [[CLS, 5, 6, SEP], [CLS, 7, 8, SEP]]
    )
    assert packer()([])["token_ids"].numpy().tolist() == [CLS, SEP, 0, 0]
