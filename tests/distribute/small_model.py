"""The small `BigBirdClassifier` both distributed runs train.

Imported by the `*_run.py` scripts after they set the backend (and, for
JAX, the virtual device count), so Keras is imported only in `build`.
"""

GLOBAL_BATCH = 16
STEPS = 3
LENGTH = 96


def build(dropout, gradient_checkpointing=True):
    """A compiled 2-layer classifier, the same weights for a given seed."""
    import keras

    from keras_bigbird.models import BigBirdClassifier
    from keras_bigbird.models import BigBirdEncoder

    keras.utils.set_random_seed(0)
    encoder = BigBirdEncoder(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=LENGTH, block_size=8,
        num_random_blocks=1, dropout=dropout, attention_dropout=dropout,
        gradient_checkpointing=gradient_checkpointing, seed=0,
    )
    model = BigBirdClassifier(encoder, num_classes=2, dropout=dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def training_data():
    """`GLOBAL_BATCH * STEPS` topic-classification examples, seed 0."""
    from tests.test_case import topic_classification_data

    return topic_classification_data(GLOBAL_BATCH * STEPS, seed=0)
