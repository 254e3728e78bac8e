"""`train`'s learning-rate schedule: warmup, peak, cosine decay to 0, and a
`.keras` model trained with it loads where keras_bigbird is not imported."""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_bigbird.training.train import learning_rate_schedule


def test_warmup_then_cosine_decay():
    config = {"epochs": 4, "learning_rate": 3e-3, "warmup_fraction": 0.25}
    schedule = learning_rate_schedule(config, 50)  # 200 steps, 50 of warmup
    steps = [0, 25, 50, 100, 125, 150, 200, 1000]
    want = [0, 1.5e-3, 3e-3] + [
        3e-3 * (1 + math.cos(math.pi * (s - 50) / 150)) / 2
        for s in steps[3:]
    ]
    want[-1] = 0.0
    values = [float(schedule(s)) for s in steps]
    np.testing.assert_allclose(values, want, rtol=1e-5, atol=1e-9)


def test_no_warmup_starts_at_the_peak():
    config = {"epochs": 1, "learning_rate": 1e-3, "warmup_fraction": 0.0}
    assert float(learning_rate_schedule(config, 10)(0)) == pytest.approx(1e-3)


def test_saved_with_the_model_and_loaded_without_the_package(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    config = {"epochs": 2, "learning_rate": 2e-3, "warmup_fraction": 0.1}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(config, 5)),
        loss="mse",
    )
    model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    # A fresh Python that never imports keras_bigbird (as a server would).
    script = (
        "import sys, keras; m = keras.saving.load_model(sys.argv[1]); "
        "s = m.optimizer._learning_rate; "
        "print(type(s).__name__, s.warmup_target, s.warmup_steps, "
        "'keras_bigbird' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["CosineDecay", "0.002", "1", "False"]
