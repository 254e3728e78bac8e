"""`BigBirdPreprocessor`: tokenizer + packer, from the encoder's facts."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.layers.global_token_mask import GlobalTokenMask
from keras_bigbird.preprocessing import BigBirdPreprocessor
from tests.models import text_fixtures


def test_from_encoder_takes_block_size_and_sequence_length():
    enc = text_fixtures.encoder(block_size=16, max_sequence_length=128)
    pre = BigBirdPreprocessor.from_encoder(enc, text_fixtures.tokenizer())
    assert (pre.block_size, pre.sequence_length) == (16, 128)
    out = pre(["w1 w2 w3", "w4"])
    # [CLS] 3 words [SEP] = 5 tokens, padded to one block of 16.
    assert out["token_ids"].shape == (2, 16)
    np.testing.assert_array_equal(
        out["padding_mask"].numpy().sum(1), [5, 3]
    )


def test_sequence_length_is_settable_and_truncates():
    pre = text_fixtures.preprocessor(text_fixtures.encoder(), 128)
    text = " ".join(["w1"] * 100)
    assert pre([text])["token_ids"].shape == (1, 104)
    pre.sequence_length = 32
    out = pre([text])
    assert out["token_ids"].shape == (1, 32)
    assert out["token_ids"].numpy()[0, -1] == 3  # [SEP] closes the cut text
    with pytest.raises(ValueError, match=r"sequence_length.*Received: .*30"):
        pre.sequence_length = 30


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sequence_length": 512}, r"sequence_length.*at most .*256"),
        ({"sequence_length": 20}, r"sequence_length"),
        ({"global_tokens": "question"}, r"global_tokens.*question"),
        ({"global_tokens": "cls"}, r"max_global_tokens.*None"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BigBirdPreprocessor.from_encoder(
            text_fixtures.encoder(), text_fixtures.tokenizer(), **kwargs
        )


def test_a_vocabulary_larger_than_the_encoder_is_an_error():
    with pytest.raises(ValueError, match=r"tokenizer.*27 ids.*=20"):
        BigBirdPreprocessor.from_encoder(
            text_fixtures.encoder(vocabulary_size=20),
            text_fixtures.tokenizer(),
        )
    with pytest.raises(ValueError, match=r"tokenizer.*Received: tokenizer="):
        BigBirdPreprocessor("not a tokenizer")


def test_pairs_are_packed_with_segments():
    pre = text_fixtures.preprocessor(text_fixtures.encoder())
    out = pre((["w1 w2", "w3"], ["w4 w5 w6", "w7"]))
    np.testing.assert_array_equal(
        out["token_ids"].numpy(),
        [[2, 6, 7, 3, 9, 10, 11, 3], [2, 8, 3, 12, 3, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        out["segment_ids"].numpy(),
        [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0, 0]],
    )


@pytest.mark.parametrize("rule", ["cls", "first_segment"])
def test_global_mask_is_the_task_models_rule(rule):
    pre = text_fixtures.preprocessor(
        text_fixtures.encoder(), global_tokens=rule, max_global_tokens=3
    )
    out = pre((["w1 w2 w3 w4", "w3"], ["w4 w5 w6", "w7"]))
    expected = {
        # [CLS] only; the first segment is [CLS] question [SEP], capped at 3.
        "cls": [[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
        "first_segment": [[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                          [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    }[rule]
    np.testing.assert_array_equal(out["global_mask"].numpy(), expected)
    layer = GlobalTokenMask(rule, 3)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(
            layer(out["padding_mask"], out["segment_ids"])
        ),
        expected,
    )


def test_labels_pass_through_and_datasets_map():
    pre = text_fixtures.preprocessor(text_fixtures.encoder())
    texts, labels = text_fixtures.texts(10)
    x, y, w = pre(texts, labels, np.ones(10))
    np.testing.assert_array_equal(y, labels)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(4)
    batches = list(dataset.map(pre))
    assert [b[0]["token_ids"].shape[1] % 8 for b in batches] == [0, 0, 0]
    np.testing.assert_array_equal(
        np.concatenate([b[1] for b in batches]), labels
    )


def test_bucketed_dataset_keeps_every_text():
    pre = text_fixtures.preprocessor(text_fixtures.encoder())
    texts, labels = text_fixtures.texts(40, longest=100)
    dataset = pre.dataset(texts, labels, batch_size=8, bucket_width=32)
    seen = []
    for x, y in dataset:
        assert x["token_ids"].shape[1] % 8 == 0
        for ids, mask, label in zip(
            x["token_ids"].numpy(), x["padding_mask"].numpy(), y.numpy()
        ):
            seen.append((tuple(ids[mask]), int(label)))
    expected = [
        (tuple(pre([t])["token_ids"].numpy()[0]), int(label))
        for t, label in zip(texts, labels)
    ]
    expected = [(tuple(i for i in ids if i), label) for ids, label in expected]
    assert sorted(seen) == sorted(expected)


def test_config_and_json_round_trip():
    pre = text_fixtures.preprocessor(
        text_fixtures.encoder(), 64, global_tokens="cls", max_global_tokens=2
    )
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(pre)))
    restored = keras.saving.deserialize_keras_object(config)
    assert restored.get_config() == pre.get_config()
    texts, _ = text_fixtures.texts(5)
    for key, value in pre(texts).items():
        np.testing.assert_array_equal(restored(texts)[key], value)
