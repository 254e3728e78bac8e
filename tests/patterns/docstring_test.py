"""The `>>>` examples of the pattern docstrings run and hold (every backend)."""

import pytest

from tests.docstring_examples import assert_examples_hold
from tests.docstring_examples import modules_with_examples


@pytest.mark.parametrize("module", modules_with_examples("keras_bigbird.patterns"))
def test_docstring_examples(module):
    assert_examples_hold(module)
