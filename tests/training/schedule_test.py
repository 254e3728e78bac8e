"""`WarmupCosineDecay`: its values step by step, its argument checks, and
a `.keras` round trip inside a compiled model's optimizer."""

import math

import keras
import numpy as np
import pytest

from keras_bigbird.training.schedule import WarmupCosineDecay


def expected(step, peak, warmup, total, final):
    # The definition in the docstring, in plain Python.
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / (total - warmup), 1.0)
    return peak * (final + (1 - final) * (1 + math.cos(math.pi * progress)) / 2)


@pytest.mark.parametrize("final", [0.0, 0.1])
def test_warmup_then_cosine_decay(final):
    schedule = WarmupCosineDecay(3e-3, 20, 220, final)
    steps = [0, 1, 10, 19, 20, 21, 70, 120, 219, 220, 1000]
    values = [float(schedule(step)) for step in steps]
    want = [expected(step, 3e-3, 20, 220, final) for step in steps]
    np.testing.assert_allclose(values, want, rtol=1e-5, atol=1e-9)
    assert values[3] == pytest.approx(3e-3)  # the peak, at the warmup's end
    assert values[-1] == pytest.approx(3e-3 * final, abs=1e-9)


def test_no_warmup_starts_at_the_peak():
    schedule = WarmupCosineDecay(1e-3, 0, 10)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(5)) == pytest.approx(5e-4)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((0.0, 1, 10), "peak_learning_rate=0.0"),
        ((float("nan"), 1, 10), "peak_learning_rate=nan"),
        ((1e-3, -1, 10), "warmup_steps=-1"),
        ((1e-3, 1.5, 10), "warmup_steps=1.5"),
        ((1e-3, 20, 10), "warmup_steps=20, decay_steps=10"),
        ((1e-3, 1, 10, 1.5), "final_learning_rate_fraction=1.5"),
    ],
)
def test_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        WarmupCosineDecay(*arguments)


def test_saved_with_the_model(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    schedule = WarmupCosineDecay(2e-3, 5, 50, 0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    restored = loaded.optimizer.learning_rate
    assert isinstance(loaded.optimizer._learning_rate, WarmupCosineDecay)
    assert loaded.optimizer._learning_rate.get_config() == schedule.get_config()
    # The optimizer's step (1 after one batch) comes back too.
    assert float(restored) == pytest.approx(float(schedule(1)))
