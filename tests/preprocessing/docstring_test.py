"""The `>>>` examples of the preprocessing docstrings run and hold."""

import doctest

import pytest
import tensorflow as tf

from keras_bigbird.preprocessing import block_packer
from keras_bigbird.preprocessing import word_piece_tokenizer

pytestmark = pytest.mark.tf_only


@pytest.mark.parametrize("module", [block_packer, word_piece_tokenizer])
def test_docstring_examples(module):
    result = doctest.testmod(
        module,
        extraglobs={"tf": tf},
        optionflags=doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0
