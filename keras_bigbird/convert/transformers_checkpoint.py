"""`from_transformers`: Hugging Face BigBird checkpoints to Keras models."""

import os
import warnings

from keras_bigbird.convert import checkpoint
from keras_bigbird.convert import config as config_lib
from keras_bigbird.convert import weights
from keras_bigbird.convert.encoder import PretrainedBigBirdEncoder
from keras_bigbird.patterns import legacy
from keras_bigbird.convert.heads import TransformersClassifier
from keras_bigbird.convert.heads import TransformersQuestionAnswerer

HEADS = ("auto", "none", "classifier", "question_answerer")

# Encoder arguments the weights fix (their shapes, or the function they
# were trained to compute): `encoder_kwargs` may repeat them, not change
# them. The others (dropout, pattern, dtype, name, ...) are free.
FIXED_ARGUMENTS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "activation",
    "layer_norm_epsilon",
    "normalize_first",
)
# Overrides that replace the checkpoint's random attention pattern.
_PATTERN_ARGUMENTS = ("pattern", "num_random_blocks", "random_pattern")

_CLASSIFIER = "classifier.out_proj.weight"
_QUESTION_ANSWERER = "qa_classifier.qa_outputs.weight"


def _directory(path):
    path = os.fspath(path)
    if os.path.isfile(path):
        path = os.path.dirname(path) or "."
    if not os.path.isdir(path):
        raise ValueError(
            "Received an invalid value for argument `path`, expected a "
            "transformers checkpoint directory (config.json and "
            f"model.safetensors). Received: path={path!r}"
        )
    return path


def _detect_head(tensors, head):
    found = None
    if _CLASSIFIER in tensors:
        found = "classifier"
    elif _QUESTION_ANSWERER in tensors:
        found = "question_answerer"
    if head == "auto":
        return found
    if head == "none":
        return None
    if head != found:
        name = _CLASSIFIER if head == "classifier" else _QUESTION_ANSWERER
        raise ValueError(
            f"head={head!r} was asked for, but the checkpoint "
            f"{tensors.source} has no tensor {name!r}."
        )
    return head


def _check_overrides(arguments, encoder_kwargs, config_path):
    if not isinstance(encoder_kwargs, dict):
        raise ValueError(
            "Received an invalid value for argument `encoder_kwargs`, "
            "expected a dict of `BigBirdEncoder` arguments. Received: "
            f"encoder_kwargs={encoder_kwargs!r}"
        )
    for name in FIXED_ARGUMENTS:
        if name in encoder_kwargs and encoder_kwargs[name] != arguments[name]:
            raise ValueError(
                f"`{name}` is fixed by the checkpoint's weights: "
                f"{config_path!r} gives {name}={arguments[name]!r}. "
                f"Received: {name}={encoder_kwargs[name]!r}"
            )


def _encoder(arguments, encoder_kwargs, random_pattern, config_path):
    """The `PretrainedBigBirdEncoder` of `arguments`, with the overrides."""
    arguments = dict(arguments)
    num_random_blocks = arguments.pop("num_random_blocks")
    if not set(_PATTERN_ARGUMENTS) & set(encoder_kwargs):
        arguments["pattern"] = legacy.bigbird_pattern(
            random_pattern, num_random_blocks, arguments["max_sequence_length"]
        )
    elif "pattern" not in encoder_kwargs:
        # PretrainedBigBirdEncoder draws the pattern from what is given.
        arguments.update(
            num_random_blocks=num_random_blocks, random_pattern=random_pattern
        )
    arguments.update(encoder_kwargs)
    try:
        return PretrainedBigBirdEncoder(**{"seed": 0, **arguments})
    except (ValueError, TypeError) as error:
        given = f" with encoder_kwargs={encoder_kwargs!r}" if encoder_kwargs else ""
        raise ValueError(
            f"Cannot build the encoder {config_path!r} describes{given}: "
            f"{error}"
        ) from None


def from_transformers(
    path, head="auto", random_pattern="bigbird_original", encoder_kwargs=None
):
    """Loads a transformers BigBird checkpoint as a Keras model.

    Reads `config.json` and the weights (`model.safetensors`, read with
    `safetensors.numpy`, no torch needed; or `pytorch_model.bin` with
    torch; sharded checkpoints too) of a `save_pretrained` directory of
    `BigBirdModel`, `BigBirdForPreTraining`, `BigBirdForMaskedLM`,
    `BigBirdForSequenceClassification` or `BigBirdForQuestionAnswering`.

    The encoder takes its architecture from the config (hidden size, layers,
    heads, intermediate size, block size, random blocks, positions,
    `hidden_act`, `layer_norm_eps`, `attention_type`; `rescale_embeddings`
    is folded into the token embeddings, `use_bias=False` gives zero
    biases) and, in `block_sparse` mode, the random pattern the checkpoint
    was trained with (see `PretrainedBigBirdEncoder`). Its outputs equal
    those of transformers' model in `train()` mode without dropout (in
    `eval()` transformers replaces every random block with block 0).

    Args:
        path: the checkpoint directory (or a file inside it).
        head: `"auto"` (the head the checkpoint has, if any), `"none"` (the
            encoder only), `"classifier"` or `"question_answerer"`.
        random_pattern: `"bigbird_original"` (the pretrained pattern, an
            `OriginalBigBirdPattern` drawn for `max_position_embeddings`
            tokens, as transformers) or `"hashed"` (the package's default
            `BigBirdPattern`).
        encoder_kwargs: `BigBirdEncoder` arguments that override the
            config's: dropout rates, `pattern`, `dtype`, `name`... The
            arguments the weights fix (`FIXED_ARGUMENTS`: sizes, positions,
            segments, activation, layer norm) may only repeat the config's
            value.

    Returns:
        A `PretrainedBigBirdEncoder`, or a `TransformersClassifier` /
        `TransformersQuestionAnswerer` (its `.encoder` is the encoder) for
        checkpoints with those heads. Pre-training / language-model heads
        are not converted.
    """
    if head not in HEADS:
        raise ValueError(
            f"Received an invalid value for argument `head`, expected one "
            f"of {HEADS}. Received: head={head!r}"
        )
    directory = _directory(path)
    config_path = os.path.join(directory, "config.json")
    config = config_lib.read_json(config_path, "config.json")
    if "model_type" not in config:
        # Without it the entries left out would take the google-research
        # defaults (block_size 16, not 64): a silently different encoder.
        raise ValueError(
            f"{config_path!r} has no `model_type` entry, so it is not a "
            "transformers config (BigBird's is \"model_type\": \"big_bird\"). "
            f"Its keys: {sorted(config)[:12]}"
        )
    arguments, extras = config_lib.encoder_arguments(config, repr(config_path))
    encoder_kwargs = {} if encoder_kwargs is None else encoder_kwargs
    _check_overrides(arguments, encoder_kwargs, config_path)
    tensors = checkpoint.read_transformers_tensors(directory)
    prefix = (
        "bert."
        if any(name.startswith("bert.") for name in tensors.names())
        else ""
    )
    if f"{prefix}embeddings.word_embeddings.weight" not in tensors:
        raise ValueError(
            f"The checkpoint {tensors.source} has no tensor "
            f"'{prefix}embeddings.word_embeddings.weight': it is not a "
            "BigBird (BERT-style) checkpoint."
        )
    head = _detect_head(tensors, head)

    encoder = _encoder(arguments, encoder_kwargs, random_pattern, config_path)
    with_pooler = f"{prefix}pooler.weight" in tensors
    weights.assign_encoder(
        encoder,
        tensors,
        prefix=prefix,
        rescale_embeddings=extras["rescale_embeddings"],
        use_bias=extras["use_bias"],
        with_pooler=with_pooler,
    )
    model = encoder
    if head == "classifier":
        dropout = config.get("classifier_dropout")
        if dropout is None:
            dropout = arguments["dropout"]
        model = TransformersClassifier(
            encoder,
            num_classes=config_lib.num_labels(config),
            activation=arguments["activation"],
            dropout=dropout,
            problem_type=config.get("problem_type"),
            name="bigbird_for_sequence_classification",
        )
        weights.assign_linear(
            model, tensors, "classifier_dense", "classifier.dense"
        )
        weights.assign_linear(
            model, tensors, "classifier_logits", "classifier.out_proj"
        )
    elif head == "question_answerer":
        model = TransformersQuestionAnswerer(
            encoder,
            sep_token_id=config.get("sep_token_id", 66),
            activation=arguments["activation"],
            dropout=arguments["dropout"],
            name="bigbird_for_question_answering",
        )
        qa = "qa_classifier"
        weights.assign_linear(
            model, tensors, "qa_intermediate_dense", f"{qa}.intermediate.dense"
        )
        weights.assign_linear(
            model, tensors, "qa_output_dense", f"{qa}.output.dense"
        )
        weights.assign_layer_norm(
            model, tensors, "qa_output_layer_norm", f"{qa}.output.LayerNorm"
        )
        weights.assign_linear(model, tensors, "qa_outputs", f"{qa}.qa_outputs")
    if not with_pooler and head != "question_answerer":
        warnings.warn(
            f"The checkpoint {tensors.source} has no pooler: the encoder's "
            "`pooled_output` comes from untrained weights.",
            stacklevel=2,
        )
    unused = [n for n in tensors.unused() if not weights.ignorable(n)]
    # An unused encoder tensor (a layer beyond `num_hidden_layers`, ...)
    # means config.json does not describe the weights; an unused task head
    # is expected with head="none" or a head that is not converted.
    encoder_parts = tuple(
        f"{prefix}{part}." for part in ("embeddings", "encoder", "pooler")
    )
    mismatched = [n for n in unused if n.startswith(encoder_parts)]
    if mismatched:
        raise ValueError(
            f"{len(mismatched)} encoder tensors of {tensors.source} have no "
            f"place in the model built from {config_path!r} (does it "
            f"describe these weights?): {weights.some_names(mismatched)}"
        )
    if unused:
        warnings.warn(
            f"{len(unused)} tensors of {tensors.source} were not converted: "
            f"{weights.some_names(unused)}",
            stacklevel=2,
        )
    return model
