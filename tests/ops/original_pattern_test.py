"""The original BigBird random pattern against transformers' own code.

The reference is the installed `transformers` BigBird (torch CPU): its
generator functions, the `rand_attn` its block-sparse forward actually
gathers, the attention probabilities it returns, and the output of its
`BigBirdAttention` module in `train()` mode with dropout 0 (its random
pattern is the published one only in training).
"""

import contextlib

import keras
import numpy as np
import pytest

from keras_bigbird.layers import BigBirdAttention
from keras_bigbird.ops import original_pattern
from tests.attention_oracle import OracleWeights
from tests.attention_oracle import assert_close
from tests.attention_oracle import dynamic_signature
from tests.attention_oracle import oracle_forward

torch = pytest.importorskip("torch")
big_bird = pytest.importorskip("transformers.models.big_bird.modeling_big_bird")
BigBirdConfig = pytest.importorskip("transformers").BigBirdConfig


@contextlib.contextmanager
def global_numpy_state_kept():
    """The reference re-seeds numpy's global generator: restore it after."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def hf_config(heads, head_size, block_size, num_random_blocks, max_len=4096,
              attention_type="block_sparse"):
    return BigBirdConfig(
        hidden_size=heads * head_size,
        num_attention_heads=heads,
        block_size=block_size,
        num_random_blocks=num_random_blocks,
        max_position_embeddings=max_len,
        attention_type=attention_type,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def hf_random_blocks(num_blocks, block_size, heads, r, seed, max_len):
    """`rand_attn` as `bigbird_block_sparse_attention` builds it (train)."""
    module = big_bird.BigBirdBlockSparseAttention(
        hf_config(heads, 4, block_size, r, max_len), seed=seed
    ).train()
    length = num_blocks * block_size
    with global_numpy_state_kept():
        np.random.seed(seed)
        if length in (1024, 3072, 4096):
            tables = [
                module._bigbird_block_rand_mask(
                    max_len, max_len, block_size, block_size, r, last_idx=1024
                )[: num_blocks - 2]
                for _ in range(heads)
            ]
        else:
            plan, counts = module._get_rand_attn_plan(length, block_size, r)
            tables = module._bigbird_block_rand_mask_with_head(
                from_seq_length=length,
                to_seq_length=length,
                from_block_size=block_size,
                to_block_size=block_size,
                num_heads=heads,
                plan_from_length=plan,
                plan_num_rand_blocks=counts,
            )
    return np.stack(tables)


@pytest.mark.parametrize(
    "block_size, r, heads, max_len",
    [(64, 3, 12, 4096), (16, 3, 4, 4096), (32, 2, 3, 4096), (64, 1, 2, 4096),
     (8, 3, 2, 1024), (64, 3, 4, 2048), (128, 3, 2, 4096)],
)
def test_random_blocks_equal_transformers_generator(block_size, r, heads, max_len):
    # Every block count the sparse model path can see, plus the paper-plan
    # and 2048-token lengths, and the short plans of the bare module
    # (including where the reference itself fails).
    counts = set(range(3, 72)) | {
        length // block_size
        for length in (1024, 2048, 3072, 4096)
        if length <= max_len
    }
    for num_blocks in sorted(counts):
        length = num_blocks * block_size
        if length in (3072, 4096) and length > max_len:
            continue  # longer than the model's positions: never seen
        for seed in (0, 7):
            try:
                expected = hf_random_blocks(
                    num_blocks, block_size, heads, r, seed, max_len
                )
            except ValueError:
                with pytest.raises(ValueError):
                    original_pattern.original_random_blocks(
                        num_blocks, block_size, heads, r, seed, max_len
                    )
                continue
            got = original_pattern.original_random_blocks(
                num_blocks, block_size, heads, r, seed, max_len
            )
            assert got.dtype == np.int32
            np.testing.assert_array_equal(
                got, expected, err_msg=f"num_blocks={num_blocks} seed={seed}"
            )


def test_numpy_global_state_untouched():
    state = np.random.get_state()
    original_pattern.original_random_blocks(64, 64, 12, 3, 3)
    original_pattern.original_random_blocks(30, 64, 12, 3, 3)
    original_pattern.attention_graph(3000, 64, 2, 3, 5)
    after = np.random.get_state()
    assert state[0] == after[0] and state[2:] == after[2:]
    np.testing.assert_array_equal(state[1], after[1])


def test_paper_plan_and_general_plan_shapes_of_the_pattern():
    """Facts the docs state: where random blocks come from, duplicates."""
    # General plan: every random block lies in the first 2r + 5 blocks.
    table = original_pattern.original_random_blocks(40, 64, 12, 3, 1)
    assert table.max() < 2 * 3 + 5
    # Paper plan: in the first 1024 tokens, drawn for 4096 tokens.
    table = original_pattern.original_random_blocks(48, 64, 12, 3, 1)
    assert table.min() >= 1 and table.max() <= 1024 // 64 - 1
    np.testing.assert_array_equal(
        table,
        original_pattern.original_random_blocks(64, 64, 12, 3, 1)[:, :46],
    )
    # At 1024 tokens some rows draw the last (global) block.
    blocks, valid = original_pattern.key_block_table(
        16, 64, 12, 3, 0, xp=original_pattern.random_pattern.NUMPY
    )
    repeats = (blocks[..., 5:] == 15).any(-1)
    assert repeats.any() and valid.all(-1).any()


def probs_and_random_blocks(module, hidden, mask, block_size):
    """Runs a block-sparse module; returns its probabilities and rand_attn."""
    captured = []
    gather = module.torch_gather_b2

    def recording_gather(params, indices):
        captured.append(indices[0].numpy().copy())
        return gather(params, indices)

    module.torch_gather_b2 = recording_gather
    context, probs = run_block_sparse(module, hidden, mask, block_size)
    return context, probs.numpy(), captured[0]


def run_block_sparse(module, hidden, mask, block_size):
    """A block-sparse HF module on `hidden` with the model's masks."""
    blocked, band, from_mask, to_mask = (
        big_bird.BigBirdModel.create_masks_for_block_sparse_attn(mask, block_size)
    )
    with global_numpy_state_kept(), torch.no_grad():
        return module(
            hidden,
            band_mask=band,
            from_mask=from_mask,
            to_mask=to_mask,
            from_blocked_mask=blocked,
            to_blocked_mask=blocked,
        )


@pytest.mark.parametrize("length", [768, 1024, 1536, 2048, 4096])
def test_graph_equals_what_transformers_attends(length):
    block_size, r, heads, seed = 64, 3, 2, 4
    module = big_bird.BigBirdBlockSparseAttention(
        hf_config(heads, 4, block_size, r), seed=seed
    ).train()
    torch.manual_seed(0)
    hidden = torch.randn(1, length, heads * 4)
    mask = torch.ones(1, length)
    _, probs, rand_attn = probs_and_random_blocks(
        module, hidden, mask, block_size
    )
    num_blocks = length // block_size
    np.testing.assert_array_equal(
        rand_attn,
        original_pattern.original_random_blocks(
            num_blocks, block_size, heads, r, seed
        ),
    )
    graph = original_pattern.attention_graph(length, block_size, heads, r, seed)
    np.testing.assert_array_equal(graph, probs[0] > 0)


def test_full_attention_below_the_model_threshold():
    # transformers.BigBirdModel attends every key up to (5 + 2r) blocks.
    for length in (1, 63, 64, 65, 11 * 64):
        assert original_pattern.attention_graph(length, 64, 2, 3, 0).all()
    assert not original_pattern.attention_graph(11 * 64 + 1, 64, 2, 3, 0).all()


@pytest.mark.tf_only
def test_in_graph_table_equals_numpy_table_for_every_length():
    import tensorflow as tf

    block_size, heads, r, seed, max_len = 32, 3, 2, 9, 4096

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def table(num_blocks):
        return original_pattern.key_block_table(
            num_blocks, block_size, heads, r, seed, max_len
        )

    numpy = original_pattern.random_pattern.NUMPY
    for num_blocks in range(2 * r + 6, max_len // block_size + 1):
        blocks, valid = table(tf.constant(num_blocks))
        expected_blocks, expected_valid = original_pattern.key_block_table(
            num_blocks, block_size, heads, r, seed, max_len, xp=numpy
        )
        np.testing.assert_array_equal(blocks.numpy(), expected_blocks)
        np.testing.assert_array_equal(valid.numpy(), expected_valid)


# === The layer against transformers' BigBirdAttention module ===


def copy_weights(layer, hf_attention, heads, head_size):
    """HF Linear weights (out, in) into the MHA layout of the layer."""
    hidden = heads * head_size

    def projection(linear):
        kernel = linear.weight.detach().numpy().T.reshape(hidden, heads, head_size)
        bias = linear.bias.detach().numpy().reshape(heads, head_size)
        return [kernel, bias]

    self_attention = hf_attention.self
    dense = hf_attention.output.dense
    layer.set_weights(
        projection(self_attention.query)
        + projection(self_attention.key)
        + projection(self_attention.value)
        + [
            dense.weight.detach().numpy().T.reshape(heads, head_size, hidden),
            dense.bias.detach().numpy(),
        ]
    )


def hf_attention_output(hf_attention, x, mask, block_size, sparse):
    """The HF module's output, the input padded to whole blocks as the model
    does (padding is masked)."""
    length = x.shape[1]
    pad = -length % block_size if sparse else 0
    hidden = torch.from_numpy(np.pad(x, ((0, 0), (0, pad), (0, 0))))
    mask = torch.from_numpy(np.pad(mask, ((0, 0), (0, pad))).astype("float32"))
    if sparse:
        out, _ = run_block_sparse(hf_attention, hidden, mask, block_size)
    else:
        additive = (1.0 - mask)[:, None, None, :] * -1e9
        with torch.no_grad():
            out, _ = hf_attention(hidden, attention_mask=additive)
    return out.numpy()[:, :length]


# (length, batch): full attention (<= 11 blocks), the 1024 paper plan from a
# non-multiple, exactly 1024, a general non-multiple, 2048 and 4096. Eager
# JAX compiles every op for every new shape: it runs three of them.
_TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="slow in eager JAX; the same comparison runs on TensorFlow",
)
LAYER_CASES = [
    pytest.param(300, 2, marks=_TF_ONLY),
    (704, 2),
    pytest.param(1000, 2, marks=_TF_ONLY),
    (1024, 2),
    (1500, 2),
    pytest.param(2048, 1, marks=_TF_ONLY),
    pytest.param(4096, 1, marks=_TF_ONLY),
]


@pytest.mark.parametrize("length, batch", LAYER_CASES)
def test_layer_matches_transformers_attention(length, batch):
    heads, head_size, block_size, r, layer_index = 4, 8, 64, 3, 5
    hidden = heads * head_size
    sparse = not original_pattern.uses_full_attention(
        -(-length // block_size), r
    )
    config = hf_config(
        heads, head_size, block_size, r,
        attention_type="block_sparse" if sparse else "original_full",
    )
    torch.manual_seed(length)
    hf_attention = big_bird.BigBirdAttention(config, seed=layer_index).train()

    layer = BigBirdAttention(
        heads, head_size, block_size=block_size, num_random_blocks=r,
        seed=layer_index, random_pattern="bigbird_original",
    )
    norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
    layer.build((None, None, hidden))
    norm.build((None, None, hidden))
    copy_weights(layer, hf_attention, heads, head_size)
    hf_norm = hf_attention.output.LayerNorm
    norm.set_weights(
        [hf_norm.weight.detach().numpy(), hf_norm.bias.detach().numpy()]
    )

    rng = np.random.default_rng(length)
    x = rng.normal(size=(batch, length, hidden)).astype("float32")
    # Random padding: a random tail and scattered masked tokens.
    mask = rng.random((batch, length)) > 0.15
    mask &= np.arange(length) < rng.integers(length // 2, length + 1, (batch, 1))
    mask[:, 0] = True

    expected = hf_attention_output(hf_attention, x, mask, block_size, sparse)
    got = keras.ops.convert_to_numpy(
        norm(layer(x, padding_mask=mask) + x)
    )
    np.testing.assert_allclose(got[mask], expected[mask], atol=1e-4, rtol=0)


@pytest.mark.tf_only
def test_layer_any_length_graph_matches_static_lengths():
    import tensorflow as tf

    heads, head_size, block_size, r = 2, 4, 16, 1
    layer = BigBirdAttention(
        heads, head_size, block_size=block_size, num_random_blocks=r,
        seed=3, random_pattern="bigbird_original", max_sequence_length=1024,
    )
    layer.build((None, None, 8))

    @tf.function(input_signature=dynamic_signature(8, with_padding_mask=True))
    def any_length(x, mask):
        return layer(x, padding_mask=mask)

    rng = np.random.default_rng(0)
    # Full attention (<= 7 blocks), general plan, and the 1024 paper plan.
    for length in (5, 100, 112, 113, 500, 1000, 1024):
        x = rng.normal(size=(2, length, 8)).astype("float32")
        mask = rng.random((2, length)) > 0.2
        np.testing.assert_allclose(
            any_length(x, mask).numpy(),
            keras.ops.convert_to_numpy(layer(x, padding_mask=mask)),
            atol=1e-5,
        )



@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_any_length_graph_when_max_length_is_not_a_multiple_of_the_block(
    jit_compile,
):
    # 100 tokens are 12.5 blocks of 8: the stored table must cover the last,
    # partial block (lengths 97-100 used to fail with a slice error).
    import tensorflow as tf

    layer = BigBirdAttention(
        2, 4, block_size=8, num_random_blocks=1, seed=1,
        random_pattern="bigbird_original", max_sequence_length=100,
    )
    layer.build((None, None, 8))
    any_length = tf.function(
        lambda x, mask: layer(x, padding_mask=mask),
        input_signature=dynamic_signature(8, with_padding_mask=True),
        jit_compile=jit_compile,
    )
    weights = OracleWeights.from_layer(layer)
    rng = np.random.default_rng(0)
    for length in (96, 97, 99, 100):
        x = rng.normal(size=(2, length, 8)).astype("float32")
        mask = np.arange(length)[None] < np.array([[length], [length - 20]])
        expected = oracle_forward(
            weights, x, graph=layer.attention_graph(length), padding_mask=mask
        ).output
        got = any_length(x, mask).numpy()
        assert_close(got[mask], expected[mask], 1e-5, err_msg=f"T={length}")


@pytest.mark.tf_only
def test_any_length_graph_longer_than_max_sequence_length_raises():
    import tensorflow as tf

    layer = BigBirdAttention(
        2, 4, block_size=8, num_random_blocks=1, seed=1,
        random_pattern="bigbird_original", max_sequence_length=100,
    )
    any_length = tf.function(
        layer, input_signature=dynamic_signature(8, with_padding_mask=False)
    )
    # The stored tables end at the block holding token 100 (104 tokens).
    any_length(tf.zeros((1, 104, 8)))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="max_sequence_length.*100"
    ):
        any_length(tf.zeros((1, 105, 8)))


def test_static_length_longer_than_max_sequence_length_uses_its_own_table():
    # A static length gets the table the original draws for that length
    # (the general plan does not depend on `max_sequence_length`), so it is
    # not limited by it.
    length, block_size, heads, r, seed = 150, 8, 2, 1, 1
    num_blocks = -(-length // block_size)
    blocks, _ = original_pattern.key_block_table(
        num_blocks, block_size, heads, r, seed, 100,
        xp=original_pattern.random_pattern.NUMPY,
    )
    np.testing.assert_array_equal(
        blocks[..., 5:],
        hf_random_blocks(num_blocks, block_size, heads, r, seed, max_len=100),
    )
    layer = BigBirdAttention(
        heads, 4, block_size=block_size, num_random_blocks=r, seed=seed,
        random_pattern="bigbird_original", max_sequence_length=100,
    )
    layer.build((None, None, 8))
    x = np.random.default_rng(1).normal(size=(1, length, 8)).astype("float32")
    expected = oracle_forward(
        OracleWeights.from_layer(layer), x, graph=layer.attention_graph(length)
    ).output
    assert_close(keras.ops.convert_to_numpy(layer(x)), expected, 1e-5)


def test_layer_config_and_graph():
    layer = BigBirdAttention(
        2, 4, block_size=8, num_random_blocks=2, seed=1,
        random_pattern="bigbird_original", max_sequence_length=2048,
    )
    config = layer.get_config()
    assert config["random_pattern"] == "bigbird_original"
    assert config["max_sequence_length"] == 2048
    clone = BigBirdAttention.from_config(config)
    np.testing.assert_array_equal(
        clone.attention_graph(1024),
        original_pattern.attention_graph(1024, 8, 2, 2, 1, 2048),
    )
    hashed = BigBirdAttention(2, 4, block_size=8, num_random_blocks=2, seed=1)
    assert hashed.get_config()["random_pattern"] == "hashed"
    assert not np.array_equal(hashed.attention_graph(1024), clone.attention_graph(1024))
    with pytest.raises(ValueError, match="random_pattern"):
        BigBirdAttention(2, 4, random_pattern="original")
    with pytest.raises(ValueError, match="max_sequence_length"):
        BigBirdAttention(2, 4, max_sequence_length=0)
