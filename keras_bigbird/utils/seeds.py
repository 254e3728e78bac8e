"""Seeds: drawn once when not given, derived per layer and per use."""

import numpy as np

from keras_bigbird.utils import checks

MAX_SEED = 2**31 - 1


def resolve(name, seed):
    """`seed` checked, or a fresh one when None (numpy's global state untouched)."""
    if seed is None:
        seed = int(np.random.default_rng().integers(0, MAX_SEED))
    checks.int_in_range(name, seed, 0, MAX_SEED)
    return int(seed)


def derive(seed, *indices):
    """A seed in `[0, 2**31 - 1)` that is a fixed function of `seed` and `indices`.

    Different indices give unrelated seeds (a SplitMix-style integer hash),
    so layer `i` of a model seeded with `seed` uses `derive(seed, i)`.
    """
    state = int(seed) & 0xFFFFFFFFFFFFFFFF
    for index in indices:
        state = (state + 0x9E3779B97F4A7C15 * (int(index) + 1)) & (2**64 - 1)
        state = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        state = ((state ^ (state >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        state ^= state >> 31
    return int(state % MAX_SEED)
