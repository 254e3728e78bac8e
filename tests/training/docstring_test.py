"""The `>>>` examples of keras_bigbird.training's docstrings hold."""

import pytest

from tests.docstring_examples import assert_examples_hold
from tests.docstring_examples import modules_with_examples


@pytest.mark.parametrize(
    "module", modules_with_examples("keras_bigbird.training")
)
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # synthetic's example writes a file
    assert_examples_hold(module)
