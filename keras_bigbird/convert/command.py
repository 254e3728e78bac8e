"""Convert a pretrained BigBird checkpoint into a `.keras` model file.

`--from transformers PATH`: a `save_pretrained` directory (config.json and
model.safetensors or pytorch_model.bin); classification and question
answering heads are converted when present. `--from google PATH`: an
original google-research TF checkpoint prefix, with `--config` giving its
parameters. The converted encoder uses the random attention pattern the
checkpoint was trained with. With `--tokenizer-output`, the checkpoint's
SentencePiece model is also written as a serialized tokenizer layer (JSON),
which `keras-bigbird export --preprocessor` accepts after a packer.
"""

import json
import os

from keras_bigbird.utils import flags

# Heads only the transformers converter builds.
GOOGLE_UNSUPPORTED_HEADS = ("classifier", "question_answerer")


def add_arguments(parser):
    parser.add_argument(
        "--from",
        dest="source",
        choices=("transformers", "google"),
        required=True,
        help="checkpoint format",
    )
    parser.add_argument("path", help="checkpoint directory or prefix")
    parser.add_argument(
        "--output", required=True, help="path of the .keras file to write"
    )
    parser.add_argument(
        "--config",
        default=None,
        type=flags.existing_file,
        help="JSON parameters of a google checkpoint (google only, "
        "required there)",
    )
    parser.add_argument(
        "--head",
        choices=("auto", "none", "classifier", "question_answerer"),
        default="auto",
        help="transformers: which head to convert (default: the one "
        "present); google checkpoints convert to an encoder",
    )
    parser.add_argument(
        "--random-pattern",
        choices=("bigbird_original", "hashed"),
        default="bigbird_original",
        help="random attention pattern (default: the pretrained one)",
    )
    parser.add_argument(
        "--tokenizer-output",
        default=None,
        help="also write the checkpoint's SentencePiece tokenizer (JSON)",
    )
    parser.add_argument("--overwrite", action="store_true")


def _check_arguments(args):
    """Raises `ValueError` for a usage error, before any conversion."""
    if not args.output.endswith(".keras"):
        raise ValueError(f"--output must end in .keras. Received: {args.output}")
    for flag, path in (
        ("--output", args.output),
        ("--tokenizer-output", args.tokenizer_output),
    ):
        if not path:
            continue
        flags.check_output(flag, path)
        if os.path.exists(path) and not args.overwrite:
            raise ValueError(
                f"{flag}: {path} exists (pass --overwrite to replace it)"
            )
    # Options another source would take are errors, not silently ignored.
    if args.source == "transformers" and args.config:
        raise ValueError(
            "--config is for --from google; a transformers checkpoint has its "
            f"own config.json. Received: --config {args.config}"
        )
    if args.source == "google" and args.head in GOOGLE_UNSUPPORTED_HEADS:
        raise ValueError(
            "--head is for --from transformers; a google checkpoint converts "
            f"to an encoder only. Received: --head {args.head}"
        )
    if args.source == "google" and not args.config:
        raise ValueError("--from google needs --config")
    # A TF checkpoint is a prefix of files (`model.ckpt-1.index`, ...).
    if not (os.path.exists(args.path) or os.path.exists(f"{args.path}.index")):
        raise ValueError(
            f"PATH: no checkpoint directory or file at {args.path!r}"
        )


def run(args):
    _check_arguments(args)

    import keras

    from keras_bigbird import convert

    if args.source == "transformers":
        model = convert.from_transformers(
            args.path, head=args.head, random_pattern=args.random_pattern
        )
    else:
        model = convert.from_google_checkpoint(
            args.path, args.config, random_pattern=args.random_pattern
        )
    tokenizer = None
    if args.tokenizer_output:
        directory = args.path if os.path.isdir(args.path) else (
            os.path.dirname(args.path) or "."
        )
        tokenizer = convert.tokenizer_from_checkpoint(directory)
    model.save(args.output)
    print(f"Wrote {type(model).__name__} ({model.count_params():,} "
          f"parameters) to {args.output}")
    if tokenizer is not None:
        with open(args.tokenizer_output, "w") as f:
            json.dump(keras.saving.serialize_keras_object(tokenizer), f)
        print(f"Wrote the tokenizer to {args.tokenizer_output}")
    return 0
