"""The shared test harness, in the manner of keras-hub's `TestCase`.

`run_layer_test`, `run_backbone_test` and `run_task_test` check in one call
what every layer or model owes its users: config and JSON round trips,
`.keras` save/load with equal outputs, mixed precision, symbolic nesting in
a user's functional model with and without the optional inputs,
`summary()` and `keras.models.clone_model`, `predict`
on a `tf.data` dataset (TensorFlow) and variable lengths. The helpers the
test files share live here too: `to_numpy`, `assert_all_close`,
`tiny_encoder`, `ids_and_mask` / `encoder_inputs` (random inputs),
`topic_classification_data` (a quick learnable task), and
`loss_and_grads` / `assert_grads_close` (backend-neutral gradients:
`tf.GradientTape` on TensorFlow, `stateless_call` + `jax.value_and_grad`
on JAX).
"""

import json

import keras
import numpy as np

from keras_bigbird.models import BigBirdEncoder

BACKEND = keras.backend.backend()

# The smallest encoder the tests build; files override what they need.
TINY_ENCODER = dict(
    vocabulary_size=50,
    num_layers=1,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=512,
    block_size=16,
    seed=3,
)


def tiny_encoder(**overrides):
    return BigBirdEncoder(**dict(TINY_ENCODER, **overrides))


def to_numpy(x):
    """Numpy copies of a tensor or a nest of them (None stays None;
    TensorFlow's `IndexedSlices` gradients become dense)."""

    def convert(value):
        if value is None:
            return None
        if BACKEND == "tensorflow":
            import tensorflow as tf

            if isinstance(value, tf.IndexedSlices):
                value = tf.convert_to_tensor(value)
        return keras.ops.convert_to_numpy(value)

    return keras.tree.map_structure(convert, x)


def assert_all_close(actual, expected, rtol=1e-5, atol=1e-6):
    """Equal nests (same keys) of arrays within tolerance."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    if isinstance(expected, dict):
        assert set(actual) == set(expected), (sorted(actual), sorted(expected))
        for key in expected:
            np.testing.assert_allclose(
                actual[key], expected[key], rtol=rtol, atol=atol, err_msg=key
            )
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def ids_and_mask(batch, length, vocabulary_size, seed=0, real=None):
    """`{"token_ids", "padding_mask"}` int32 with `real` real tokens per row
    (all of them by default)."""
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    if real is not None:
        mask = (np.arange(length)[None] < np.asarray(real)[:, None])
        mask = mask.astype("int32")
    return {
        "token_ids": (rng.integers(1, vocabulary_size, (batch, length))
                      * mask).astype("int32"),
        "padding_mask": mask,
    }


def loss_and_grads(model, inputs, loss_fn, training=True, graph=False):
    """`(loss, grads)` of `loss_fn(model(inputs))` w.r.t. trainable weights.

    `graph=True` traces the TensorFlow computation with `tf.function`,
    `graph="xla"` with `tf.function(jit_compile=True)` (JAX always traces,
    with `jax.jit`). Grads are numpy (None if unconnected).
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def step():
            with tf.GradientTape() as tape:
                loss = loss_fn(model(inputs, training=training))
            return loss, tape.gradient(loss, model.trainable_variables)

        if graph:
            step = tf.function(step, jit_compile=graph == "xla")
        loss, grads = step()
        return float(loss), to_numpy(list(grads))

    import jax

    if not model.built:
        model(inputs)
    non_trainable = [v.value for v in model.non_trainable_variables]

    def compute(trainable):
        outputs, _ = model.stateless_call(
            trainable, non_trainable, inputs, training=training
        )
        return loss_fn(outputs)

    loss, grads = jax.jit(jax.value_and_grad(compute))(
        [v.value for v in model.trainable_variables]
    )
    return float(loss), [np.asarray(g) for g in grads]


def assert_grads_close(grads_a, grads_b, rtol=1e-4):
    """Every gradient equal to tolerance, relative to its own scale.

    Gradients that are zero in exact arithmetic (the key bias) are
    round-off; their scale is floored at 1e-3 of the largest gradient.
    """
    assert len(grads_a) == len(grads_b)
    largest = max(float(np.abs(a).max()) for a in grads_a if a is not None)
    for a, b in zip(grads_a, grads_b):
        assert (a is None) == (b is None)
        if a is None:
            continue
        scale = max(float(np.abs(a).max()), 1e-3 * largest)
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def encoder_inputs(batch, length, vocabulary_size, lengths=None, seed=0):
    """Random token ids, a padding mask (real lengths `lengths`), segments."""
    rng = np.random.default_rng(seed)
    if lengths is None:
        lengths = [length] * batch
    token_ids = rng.integers(1, vocabulary_size, (batch, length))
    padding_mask = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
    token_ids = np.where(padding_mask, token_ids, 0)
    segment_ids = (np.arange(length)[None, :] >= length // 2) & padding_mask
    return {
        "token_ids": token_ids.astype("int32"),
        "padding_mask": padding_mask.astype("int32"),
        "segment_ids": segment_ids.astype("int32"),
    }


def topic_classification_data(n, seed, num_classes=2, vocabulary_size=64,
                              length=96, topical_fraction=0.5):
    """A quick synthetic sequence task: which topic do the tokens come from.

    Half of the tokens of a class-`k` sequence are drawn from 5 tokens of
    topic `k`, the rest from a shared noise vocabulary; token 1 is `[CLS]`;
    sequences have random lengths in `[length / 2, length]`, right-padded
    with 0. Returns `(inputs, labels)`.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    tokens = rng.integers(3 + 5 * num_classes, vocabulary_size, (n, length))
    topical = rng.random((n, length)) < topical_fraction
    topic_tokens = 3 + 5 * labels[:, None] + rng.integers(0, 5, (n, length))
    tokens = np.where(topical, topic_tokens, tokens)
    tokens[:, 0] = 1
    lengths = rng.integers(length // 2, length + 1, n)
    padding_mask = np.arange(length)[None] < lengths[:, None]
    tokens = np.where(padding_mask, tokens, 0)
    inputs = {
        "token_ids": tokens.astype("int32"),
        "padding_mask": padding_mask.astype("int32"),
    }
    return inputs, labels.astype("int32")


def _serialization_round_trip(obj):
    config = obj.get_config()
    restored = type(obj).from_config(config)
    assert restored.get_config() == config
    as_json = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    again = keras.saving.deserialize_keras_object(as_json)
    assert type(again) is type(obj)
    assert again.get_config() == config
    return restored


def _saving_round_trip(model, inputs, tmp_path):
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert_all_close(restored(inputs), model(inputs), rtol=1e-6, atol=1e-6)


def _mixed_precision(build, inputs, float_outputs):
    model = build("mixed_float16")
    outputs = keras.tree.flatten(model(inputs))
    dtypes = sorted({str(keras.backend.standardize_dtype(o.dtype))
                     for o in outputs})
    assert dtypes == sorted(float_outputs), dtypes
    assert keras.dtype_policies.get(model.dtype_policy).name == (
        "mixed_float16"
    )


def _symbolic_nesting(model, inputs):
    """The model called on the user's own `keras.Input`s, with every
    subset of its optional inputs, equals the model called eagerly."""
    optional = [n for n in model.optional_inputs if n in inputs]
    for left_out in [(), tuple(optional)]:
        given = {k: v for k, v in inputs.items() if k not in left_out}
        symbolic = {
            k: keras.Input(shape=(None,), dtype="int32", name=k)
            for k in given
        }
        outer = keras.Model(symbolic, model(symbolic))
        assert_all_close(outer(given), model(given), rtol=1e-5, atol=1e-6)


def _full_inputs(model, inputs):
    """`inputs` with every optional input given: zeros, the value each
    optional input (`segment_ids`, `global_mask`) reads as 'none'."""
    batch, length = np.shape(inputs["token_ids"])
    return dict(
        {n: np.zeros((batch, length), "int32") for n in model.optional_inputs},
        **inputs,
    )


def _summary_and_clone(model, inputs):
    """`summary()` lists the model's layers and parameter count, and
    `keras.models.clone_model` works: on the model itself Keras returns a
    plain `Functional` (as for every functional subclass) that takes the
    full input dict, and on a user's model nesting ours the nested model
    stays our class with its optional inputs. Each clone, given the
    original's weights, computes the original's outputs."""
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert model.name in text, text
    assert f"{model.count_params():,}" in text, text

    full = _full_inputs(model, inputs)
    clone = keras.models.clone_model(model)
    assert sorted(clone.input) == sorted(model.input)
    clone.set_weights(model.get_weights())
    assert_all_close(clone(full), model(full), rtol=1e-5, atol=1e-6)

    required = {k: v for k, v in inputs.items()
                if k not in model.optional_inputs}
    symbolic = {k: keras.Input(shape=(None,), dtype="int32", name=k)
                for k in required}
    outer = keras.Model(symbolic, model(symbolic))
    outer_clone = keras.models.clone_model(outer)
    nested = [layer for layer in outer_clone.layers
              if isinstance(layer, type(model))]
    assert len(nested) == 1 and nested[0] is not model, outer_clone.layers
    assert nested[0].get_config() == model.get_config()
    outer_clone.set_weights(outer.get_weights())
    assert_all_close(outer_clone(required), model(required), rtol=1e-5,
                     atol=1e-6)


def _tf_data_predict(model, inputs):
    import tensorflow as tf  # tf.data feeds every backend

    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    assert_all_close(
        model.predict(dataset, verbose=0), model(inputs), rtol=1e-5,
        atol=1e-6,
    )


def run_layer_test(cls, init_kwargs, input_data, tmp_path=None):
    """A layer's config/JSON round trips and, in a functional model, its
    `.keras` round trip; returns its output on `input_data`."""
    layer = cls(**init_kwargs)
    output = layer(input_data)
    _serialization_round_trip(layer)
    if tmp_path is not None:
        symbolic = keras.Input(shape=input_data.shape[1:], dtype="float32")
        model = keras.Model(symbolic, cls(**init_kwargs)(symbolic))
        _saving_round_trip(model, input_data, tmp_path)
    return output


def run_backbone_test(build, inputs, tmp_path, lengths=(32, 48)):
    """`build(dtype=None)` -> a backbone; every check of the module."""
    model = build(None)
    _serialization_round_trip(model)
    _saving_round_trip(model, inputs, tmp_path)
    _mixed_precision(build, inputs, ["float16"])
    _symbolic_nesting(model, inputs)
    _summary_and_clone(model, inputs)
    _tf_data_predict(model, inputs)
    vocabulary = model.vocabulary_size
    for length in lengths:
        batch = ids_and_mask(2, length, vocabulary, real=[length, length - 5])
        outputs = model(batch)
        assert outputs["sequence_output"].shape[:2] == (2, length)


def run_task_test(build, inputs, y, tmp_path, float_outputs=("float32",)):
    """`build(dtype=None)` -> a compiled task model; every check of the
    module, and a `fit` step on a `tf.data` dataset that changes its
    weights."""
    import tensorflow as tf

    model = build(None)
    _serialization_round_trip(model)
    _saving_round_trip(model, inputs, tmp_path)
    _mixed_precision(build, inputs, list(float_outputs))
    _symbolic_nesting(model, inputs)
    _summary_and_clone(model, inputs)
    _tf_data_predict(model, inputs)
    before = to_numpy(model.trainable_weights)
    model.fit(tf.data.Dataset.from_tensor_slices((inputs, y)).batch(2),
              shuffle=False, verbose=0)
    after = to_numpy(model.trainable_weights)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
