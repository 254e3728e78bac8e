"""Exports shared by the export tests: written once per session."""

import types

import pytest

from tests.export import toy_models

MAX_LENGTH = toy_models.MAX_SEQUENCE_LENGTH
TEXTS = [
    "The big bird reads long text.",
    "A cat sat on the mat and the dogs ran far",
    "zebra",
]


def _export(tmp_path_factory, name, model, preprocessor=None):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("needs KERAS_BACKEND=tensorflow")
    from keras_bigbird.export import export_for_serving

    base = tmp_path_factory.mktemp(f"{name}_serving")
    # The maximum length, vocabulary size and number of segments are read
    # from the model (its encoder's attributes).
    path = export_for_serving(model, base, name=name, preprocessor=preprocessor)
    return types.SimpleNamespace(
        model=model, preprocessor=preprocessor, base=base, path=path, name=name
    )


@pytest.fixture(scope="session")
def classifier_export(tmp_path_factory):
    """A BigBirdClassifier (logits) with `serve_text` (WordPiece +
    BlockPacker)."""
    return _export(
        tmp_path_factory,
        "classifier",
        toy_models.bigbird_classifier(),
        toy_models.preprocessor(),
    )


@pytest.fixture(scope="session")
def encoder_export(tmp_path_factory):
    """A BigBirdEncoder (sequence/pooled outputs, segment ids), tokens
    only."""
    return _export(tmp_path_factory, "encoder", toy_models.bigbird_encoder())
