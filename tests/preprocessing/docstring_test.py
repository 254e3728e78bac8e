"""The `>>>` examples of the preprocessing docstrings run and hold."""

import pytest
import tensorflow as tf

from tests.docstring_examples import assert_examples_hold
from tests.docstring_examples import modules_with_examples

pytestmark = pytest.mark.tf_only


@pytest.mark.parametrize(
    "module", modules_with_examples("keras_bigbird.preprocessing")
)
def test_docstring_examples(module):
    assert_examples_hold(module, tf=tf)
