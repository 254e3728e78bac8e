"""Export a saved Keras model as a TF Serving SavedModel version.

Loads MODEL (a `.keras` file), writes EXPORT_BASE/NAME/VERSION with the
`serving_default` signature (int32 token_ids, padding_mask[, segment_ids]),
`serve_text` when a preprocessor is given, and TF Serving warmup requests.
With --check, the export is then loaded in a fresh Python process that
imports only TensorFlow and compared with `model.predict`.
"""

import json
import os
import subprocess
import sys

from keras_bigbird.utils import flags

_REEXEC = "_KERAS_BIGBIRD_EXPORT_REEXEC"


def add_arguments(parser):
    parser.add_argument("model", help="path of a .keras model file")
    parser.add_argument(
        "--export-base",
        required=True,
        help="directory holding one folder per served model",
    )
    parser.add_argument(
        "--name", required=True, help="model name (folder and serving URL)"
    )
    parser.add_argument(
        "--version",
        type=flags.positive_int,
        default=None,
        help="integer version (default: one more than the highest present)",
    )
    parser.add_argument(
        "--preprocessor",
        default=None,
        type=flags.existing_file,
        help=(
            "JSON file of a serialized preprocessing layer, or a list of them "
            "applied in order (tokenizer, packer), as written by "
            "keras.saving.serialize_keras_object; adds `serve_text`. Default: "
            "the task model's own preprocessor, saved in its .keras file"
        ),
    )
    parser.add_argument(
        "--no-text",
        action="store_true",
        help=(
            "do not add `serve_text`, even with --preprocessor or a model "
            "that has a preprocessor"
        ),
    )
    parser.add_argument(
        "--max-sequence-length", type=flags.positive_int, default=None
    )
    parser.add_argument(
        "--vocabulary-size", type=flags.positive_int, default=None
    )
    parser.add_argument(
        "--num-segments", type=flags.non_negative_int, default=None
    )
    parser.add_argument(
        "--probabilities",
        choices=("auto", "softmax", "sigmoid", "none"),
        default="auto",
        help=(
            "for a single-output model: the `probabilities` output. auto: "
            "the model's problem_type if it has one (sigmoid for multi-label, "
            "none for regression), else a softmax, or none for a model with "
            "a single logit (a softmax over one logit is always 1)"
        ),
    )
    parser.add_argument(
        "--warmup-lengths",
        type=flags.positive_int,
        nargs="+",
        default=None,
        help="sequence lengths of the warmup requests",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument(
        "--check",
        action="store_true",
        help="serve the export from a clean process and compare with predict",
    )
    parser.add_argument(
        "--check-text",
        nargs="+",
        default=["A short text to check serve_text.", "Another one."],
        help="texts for the serve_text check",
    )


def _load_custom_objects():
    # Importing the subpackages registers their serializable classes.
    import importlib

    for name in ("keras_bigbird.models", "keras_bigbird.preprocessing"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise


def _load_preprocessor(path):
    """The layers serialized in the JSON file `path` (one, or a list)."""
    import keras

    try:
        with open(path) as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--preprocessor {path}: not JSON ({error})") from None
    configs = config if isinstance(config, list) else [config]
    if not configs or not all(isinstance(c, dict) for c in configs):
        raise ValueError(
            f"--preprocessor {path}: expected a serialized layer {{...}} or a "
            f"list of them. Received: {json.dumps(config)[:200]}"
        )
    try:
        layers = [keras.saving.deserialize_keras_object(c) for c in configs]
    except (TypeError, ValueError) as error:
        raise ValueError(f"--preprocessor {path}: {error}") from None
    return layers if isinstance(config, list) else layers[0]


def run(args):
    if not os.path.isfile(args.model):
        raise ValueError(f"MODEL: no model file at {args.model!r}")
    flags.check_output("--export-base", args.export_base, directory=True)

    import keras

    if keras.backend.backend() != "tensorflow":
        # A SavedModel for TF Serving needs TensorFlow tensors: re-run this
        # command in a process with the TensorFlow backend.
        if os.environ.get(_REEXEC):
            raise ValueError("could not switch to the TensorFlow backend")
        env = dict(os.environ, KERAS_BACKEND="tensorflow", **{_REEXEC: "1"})
        command = [sys.executable, "-m", "keras_bigbird.cli", *args.argv]
        return subprocess.call(command, env=env)

    from keras_bigbird.export.check import check_export
    from keras_bigbird.export.check import signature_tensors
    from keras_bigbird.export.serving import export_for_serving
    from keras_bigbird.export.signatures import SERVE_TEXT
    from keras_bigbird.export.signatures import TEXT

    _load_custom_objects()
    preprocessor = None
    # --no-text drops `serve_text` whichever source would provide it; a
    # --preprocessor file is read before the (slow) model. Without one,
    # the export serves a task model's own preprocessor.
    if args.preprocessor and not args.no_text:
        preprocessor = _load_preprocessor(args.preprocessor)
    model = keras.saving.load_model(args.model)
    probabilities = None if args.probabilities == "none" else args.probabilities
    path = export_for_serving(
        model,
        args.export_base,
        name=args.name,
        version=args.version,
        preprocessor=preprocessor,
        serve_text=not args.no_text,
        max_sequence_length=args.max_sequence_length,
        vocabulary_size=args.vocabulary_size,
        num_segments=args.num_segments,
        probabilities=probabilities,
        warmup_lengths=args.warmup_lengths,
        overwrite=args.overwrite,
    )
    print(f"Exported {args.model} to {path}")
    for name, signature in sorted(signature_tensors(path).items()):
        inputs = ", ".join(
            f"{k}: {v['dtype']} {v['shape']}"
            for k, v in sorted(signature["inputs"].items())
        )
        print(
            f"  {name}({inputs}) -> {', '.join(sorted(signature['outputs']))}"
        )
    if args.check:
        try:
            report = check_export(
                path,
                model,
                preprocessor=preprocessor,
                # A pair signature (a question answerer's) is checked on
                # its token requests only: --check-text holds single texts.
                texts=(
                    args.check_text
                    if list(signature_tensors(path).get(SERVE_TEXT, {}).get(
                        "inputs", {}
                    )) == [TEXT]
                    else None
                ),
                max_sequence_length=args.max_sequence_length,
                vocabulary_size=args.vocabulary_size,
                probabilities=probabilities,
            )
        except (AssertionError, RuntimeError, ValueError) as error:
            # The export is written but does not serve what predict gives.
            raise ValueError(f"serving check failed: {error}") from error
        print(
            f"Serving check passed: {report['requests']} requests from a "
            "fresh TensorFlow-only process match model.predict (max abs "
            f"difference {report['serving_default']:.2g}"
            + (
                f", serve_text {report['serve_text']:.2g}"
                if report["serve_text"] is not None
                else ""
            )
            + ")."
        )
    return 0
