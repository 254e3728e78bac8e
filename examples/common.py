"""What the examples share: flags, the smoke mode, the text-task runner.

The flags are those of `keras-bigbird train` (`keras_bigbird.training.
options`), so an example's run can be repeated from the command line, and
`keras_bigbird.training` does the fitting (`ModelCheckpoint`, `TensorBoard`,
`evaluate`, `.keras` file), so no example repeats it.
"""

import argparse
import sys

from keras_bigbird.training import options

# `--smoke`: a few steps of a one-layer tiny model on short sequences, for
# CI. The examples add their own (fewer examples, shorter documents).
SMOKE = {
    "preset": "bigbird_tiny",
    "encoder_config": {"num_layers": 1},
    "max_sequence_length": 128,
    "batch_size": 4,
    "epochs": 1,
}


class _HelpFormatter(
    argparse.RawDescriptionHelpFormatter,
    argparse.ArgumentDefaultsHelpFormatter,
):
    """Keeps the docstring's layout and shows every default."""


def parse(argv, description, groups, defaults, smoke, add_arguments=None,
          ignored=()):
    """Parses an example's flags into a dict of options.

    Args:
        argv: the arguments (`sys.argv[1:]` if `None`).
        description: the `--help` text (the example's docstring).
        groups: `keras_bigbird.training.options.add_*_arguments` functions
            (`--config` is always added).
        defaults: the example's defaults (its laptop-sized run), over
            `keras_bigbird.training.options.DEFAULTS`.
        smoke: what `--smoke` changes on top of `SMOKE`.
        add_arguments: adds the example's own flags to the parser.
        ignored: option names (`"patience"`) of the shared groups that the
            example does not use: hidden from `--help`, and a usage error
            (exit 2, naming the flag) when given, rather than silently
            dropped.

    Returns:
        A dict of options, `smoke` included.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=_HelpFormatter
    )
    options.add_config_argument(parser)
    for add_group in groups:
        add_group(parser)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few steps of a tiny model on short sequences (CI)",
    )
    given = sys.argv[1:] if argv is None else argv
    for action in parser._actions:
        if action.dest not in ignored:
            continue
        action.help = argparse.SUPPRESS
        for flag in action.option_strings:
            if any(a == flag or a.startswith(flag + "=") for a in given):
                parser.error(f"{flag} does not apply to this example")
    return options.parse_config(
        parser, argv, {**options.DEFAULTS, **defaults}, {**SMOKE, **smoke}
    )


def add_split_arguments(group, noun, validation, test):
    """`--train-examples` (its default in the example's DEFAULTS),
    `--validation-examples` and `--test-examples`: how many generated
    `noun` each split holds."""
    group.add_argument("--train-examples", type=int, help=f"{noun} to train on")
    group.add_argument(
        "--validation-examples",
        type=int,
        default=validation,
        help=f"{noun} evaluated after each epoch",
    )
    group.add_argument(
        "--test-examples",
        type=int,
        default=test,
        help=f"{noun} evaluated at the end",
    )


# The flag groups of an example that builds its own data and model.
MODEL_AND_FIT = (options.add_model_arguments, options.add_fit_arguments)


# The TFDS text examples: a laptop-sized run, and its smoke version.
TEXT_DEFAULTS = {
    "vocabulary_size": 8000,
    "tokenizer_documents": 1000,
    "batch_size": 8,
    "epochs": 2,
}
TEXT_SMOKE = {
    "train_split": "train[:16]",
    "test_split": "test[:8]",
    "vocabulary_size": 200,
    "tokenizer_documents": 16,
}


def run_text_task(argv, description, defaults, smoke):
    """`keras_bigbird.training.train` with an example's defaults.

    All the flags of `keras-bigbird train` apply; the example only sets the
    dataset and sizes (over `TEXT_DEFAULTS` and `TEXT_SMOKE`). Returns the
    `TrainingResult`.
    """
    from keras_bigbird.training import train

    config = parse(
        argv,
        description,
        [
            options.add_data_arguments,
            options.add_tokenizer_arguments,
            *MODEL_AND_FIT,
        ],
        {**TEXT_DEFAULTS, **defaults},
        {**TEXT_SMOKE, **smoke},
    )
    config.pop("smoke")
    return train(config)


def learning_curve(history, metrics, path, title, baseline=None):
    """Plots `history[m]` per epoch for each of `metrics` into a small PNG,
    with `baseline` (`(label, value)`, e.g. the majority class) as a dashed
    line, so the picture alone shows whether the model learned.

    Returns `path`, or None when matplotlib is not installed (it is
    optional: the summary line says the same in words).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axis = plt.subplots(figsize=(4, 2.6))
    for name, label in metrics.items():
        values = history[name]
        axis.plot(range(1, len(values) + 1), values, marker=".", label=label)
    if baseline is not None:
        axis.axhline(baseline[1], color="gray", linestyle="--",
                     label=f"{baseline[0]} ({baseline[1]:.3f})")
    axis.set_xlabel("epoch")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def summary_line(example, metric, value, baseline, baseline_value, seconds):
    """The one line an example ends with: metric, baseline, wall time."""
    line = (
        f"{example}: {metric} {value:.3f} (baseline: {baseline} "
        f"{baseline_value:.3f}), {seconds:.0f} s wall"
    )
    print(line)
    return line
