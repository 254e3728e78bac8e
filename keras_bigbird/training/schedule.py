"""`WarmupCosineDecay`: the learning-rate schedule of `keras-bigbird train`.

Transformers trained from scratch with Adam diverge or stall when the
first steps take the full learning rate (the second-moment estimates are
still poor), and settle better when the rate decays towards the end, so
`train` warms up linearly and then decays along a half cosine.
"""

import math
import numbers

import keras
from keras import ops

from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak_learning_rate`, then a half-cosine decay.

    Step `s` (from 0) gets `peak * (s + 1) / warmup_steps` during the
    warmup, then `peak * (final + (1 - final) * (1 + cos(pi * p)) / 2)`,
    `p` going from 0 to 1 over the remaining `decay_steps - warmup_steps`
    steps and staying at 1 after them (`final` being
    `final_learning_rate_fraction`). A Keras `LearningRateSchedule`: it is
    saved in the optimizer's config with a `.keras` model and loads back.

    Args:
        peak_learning_rate: the rate at the end of the warmup, > 0.
        warmup_steps: steps of the linear warmup, >= 0.
        decay_steps: the step at which the decay ends, >= `warmup_steps`.
        final_learning_rate_fraction: the last rate as a fraction of the
            peak, in [0, 1].

    Example:

    >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=10, decay_steps=110)
    >>> [round(float(schedule(s)), 6) for s in (0, 9, 60, 110, 500)]
    [0.0001, 0.001, 0.0005, 0.0, 0.0]
    """

    def __init__(
        self,
        peak_learning_rate,
        warmup_steps,
        decay_steps,
        final_learning_rate_fraction=0.0,
    ):
        if not (
            isinstance(peak_learning_rate, numbers.Real)
            and math.isfinite(peak_learning_rate)
            and peak_learning_rate > 0
        ):
            raise ValueError(
                "Received an invalid value for argument "
                "`peak_learning_rate`, expected a finite number > 0. "
                f"Received: peak_learning_rate={peak_learning_rate!r}"
            )
        checks.non_negative_int("warmup_steps", warmup_steps)
        checks.non_negative_int("decay_steps", decay_steps)
        if decay_steps < warmup_steps:
            raise ValueError(
                "Received `decay_steps` < `warmup_steps`: the decay ends "
                "after the warmup. Received: "
                f"warmup_steps={warmup_steps}, decay_steps={decay_steps}"
            )
        if not 0 <= final_learning_rate_fraction <= 1:
            raise ValueError(
                "Received an invalid value for argument "
                "`final_learning_rate_fraction`, expected a number in "
                "[0, 1]. Received: final_learning_rate_fraction="
                f"{final_learning_rate_fraction!r}"
            )
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.final_learning_rate_fraction = final_learning_rate_fraction

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = ops.minimum((step + 1.0) / max(self.warmup_steps, 1), 1.0)
        span = max(self.decay_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        final = self.final_learning_rate_fraction
        cosine = final + (1 - final) * 0.5 * (1 + ops.cos(math.pi * progress))
        in_warmup = step < self.warmup_steps
        return ops.where(in_warmup, peak * warmup, peak * cosine)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "final_learning_rate_fraction": self.final_learning_rate_fraction,
        }
