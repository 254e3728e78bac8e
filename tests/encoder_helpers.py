"""Helpers shared by the encoder block, encoder and training tests.

Backend-neutral: gradients through `tf.GradientTape` on TensorFlow and
`stateless_call` + `jax.value_and_grad` on JAX.
"""

import keras
import numpy as np

BACKEND = keras.backend.backend()


def to_numpy(x):
    if x is None:
        return None
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(x).numpy()  # IndexedSlices too
    return np.asarray(x)


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
        return float(loss), [to_numpy(g) for g in grads]

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
