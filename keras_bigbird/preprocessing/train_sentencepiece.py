"""`train_sentencepiece`: a SentencePiece vocabulary from the user's corpus."""

import os

import numbers

import sentencepiece

from keras_bigbird.preprocessing.text_files import check_file_exists
from keras_bigbird.preprocessing.text_files import read_text_file
from keras_bigbird.utils import checks

MODEL_TYPES = ("unigram", "bpe", "char", "word")
NORMALIZATIONS = ("nmt_nfkc", "nmt_nfkc_cf", "nfkc", "nfkc_cf", "identity")


def _lines(text, max_bytes):
    """Yields the lines of `text`, long ones cut at spaces to `max_bytes`."""
    for line in text.splitlines():
        line = line.strip()
        if len(line.encode("utf-8")) <= max_bytes:
            if line:
                yield line
            continue
        chunk, size = [], 0
        for word in line.split():
            word_size = len(word.encode("utf-8")) + 1
            if chunk and size + word_size > max_bytes:
                yield " ".join(chunk)
                chunk, size = [], 0
            chunk.append(word)
            size += word_size
        if chunk:
            yield " ".join(chunk)


def _check_files(files):
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    files = [os.fspath(f) for f in files]
    if not files:
        raise ValueError(
            "Received an invalid value for argument `files`, expected at "
            f"least one text file. Received: files={files!r}"
        )
    for path in files:
        check_file_exists("files", path, "file")
    return files


# The BigBird-RoBERTa layout of the special tokens (see the docstring).
_FIXED_IDS = {"pad_id": 0, "bos_id": 1, "eos_id": 2, "unk_id": 3}
_FIXED_PIECES = ("<pad>", "<s>", "</s>", "<unk>")


def _check_symbols(symbols):
    """Returns each symbols argument as a tuple; a bare string is one."""
    result, seen = {}, set(_FIXED_PIECES)
    for name, value in symbols:
        try:
            value = (value,) if isinstance(value, str) else tuple(value)
        except TypeError:
            value = (value,)
        for symbol in value:
            if not isinstance(symbol, str) or not symbol:
                rule = "non-empty strings"
            elif symbol in seen:
                rule = (
                    "distinct from each other and from the fixed pieces "
                    f"{_FIXED_PIECES}"
                )
            else:
                seen.add(symbol)
                continue
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected "
                f"symbols that are {rule}. Received: {name}={value!r} "
                f"(symbol {symbol!r})"
            )
        result[name] = value
    return result


def _check_options(
    vocab_size,
    model_type,
    character_coverage,
    normalization_rule_name,
    max_sentence_length,
    input_sentence_size,
    num_threads,
):
    """The trainer's own errors name no argument (or the wrong one)."""
    checks.positive_int("vocab_size", vocab_size)
    checks.one_of("model_type", model_type, MODEL_TYPES)
    if (
        not isinstance(character_coverage, numbers.Real)
        or isinstance(character_coverage, bool)
        or not 0.98 <= character_coverage <= 1
    ):
        raise ValueError(
            "Received an invalid value for argument `character_coverage`, "
            "expected a number in [0.98, 1] (the trainer's range). "
            f"Received: character_coverage={character_coverage!r}"
        )
    checks.one_of(
        "normalization_rule_name", normalization_rule_name, NORMALIZATIONS
    )
    checks.int_in_range("max_sentence_length", max_sentence_length, 10, 2**30)
    checks.non_negative_int("input_sentence_size", input_sentence_size)
    if num_threads is not None:
        checks.int_in_range("num_threads", num_threads, 1, 1024)


def _check_texts(texts):
    """Returns `texts` as a list of strings."""
    if isinstance(texts, (str, bytes)):
        raise ValueError(
            "Received an invalid value for argument `texts`, expected an "
            "iterable of documents, not a single string (use `files=` "
            f"for a file). Received: texts={texts[:80]!r}"
        )
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(
            "Received an invalid value for argument `texts`, expected an "
            f"iterable of documents (strings). Received: texts={texts!r}"
        ) from None
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                "Received an invalid value for argument `texts`, expected "
                f"documents that are strings. Received: texts[{index}]="
                f"{text!r}"[:300]
            )
    return texts


def train_sentencepiece(
    texts=None,
    *,
    files=None,
    vocab_size=8000,
    model_prefix,
    model_type="unigram",
    character_coverage=1.0,
    normalization_rule_name="nmt_nfkc",
    control_symbols=("[CLS]", "[SEP]"),
    user_defined_symbols=("[MASK]",),
    max_sentence_length=8192,
    input_sentence_size=0,
    num_threads=None,
    **options,
):
    """Trains a SentencePiece model and writes `<model_prefix>.model`.

    Use it when there is no pretrained vocabulary: train on the corpus, put
    `model_prefix` inside the directory of the model you are training (for
    example `runs/my_model/spm`), and build a `SentencePieceTokenizer` from
    the returned path. The tokenizer embeds the model, so the `.keras` file
    and SavedModel exports need no separate vocabulary file; the `.model`
    and `.vocab` files stay beside the model for other tools.

    The special tokens follow the BigBird-RoBERTa layout, by string:
    `<pad>`=0, `<s>`=1, `</s>`=2, `<unk>`=3, then `control_symbols`
    (`[CLS]`, `[SEP]`: ids never produced from text) and
    `user_defined_symbols` (`[MASK]`: also matched when it appears in text).
    These are the `SentencePieceTokenizer` defaults.

    Documents are split into lines, and lines longer than
    `max_sentence_length` bytes are cut at spaces, so long documents are not
    skipped by the trainer.

    Args:
        texts: an iterable of documents (strings). Give `texts` or `files`.
        files: a path or a list of paths of UTF-8 text files.
        vocab_size: number of pieces, special tokens included. The trainer
            refuses a size larger than the corpus supports.
        model_prefix: output path without extension; parent directories are
            created.
        model_type: `"unigram"`, `"bpe"`, `"char"` or `"word"`.
        character_coverage: share of characters covered by the vocabulary
            (1.0 for small alphabets, 0.9995 for CJK).
        normalization_rule_name: `"nmt_nfkc"` (default), `"nmt_nfkc_cf"`
            (also case-folds), `"nfkc"` or `"identity"`.
        control_symbols: special tokens that text never produces (a string
            or a sequence of them).
        user_defined_symbols: special tokens also matched in text (a string
            or a sequence of them).
        max_sentence_length: longest training line in bytes.
        input_sentence_size: if positive, the number of lines sampled for
            training (for a large corpus); 0 uses every line.
        num_threads: trainer threads; defaults to the number of CPUs.
        **options: any other `sentencepiece.SentencePieceTrainer.train`
            option (not the special-token ids, which are fixed).

    Returns:
        The path of the `.model` file, as a string.

    Example:

    ```python
    model_file = train_sentencepiece(
        files=["corpus/part-0.txt", "corpus/part-1.txt"],
        vocab_size=16000,
        model_prefix="runs/my_model/spm",
    )
    tokenizer = SentencePieceTokenizer(model_file)
    ```
    """
    if (texts is None) == (files is None):
        raise ValueError(
            "Pass exactly one of `texts` and `files`. Received: "
            f"texts={'None' if texts is None else '...'}, files={files!r}"
        )
    if model_prefix is None or not os.fspath(model_prefix):
        raise ValueError(
            "Received an invalid value for argument `model_prefix`, expected "
            f"an output path. Received: model_prefix={model_prefix!r}"
        )
    model_prefix = os.fspath(model_prefix)
    _check_options(
        vocab_size,
        model_type,
        character_coverage,
        normalization_rule_name,
        max_sentence_length,
        input_sentence_size,
        num_threads,
    )
    symbols = _check_symbols(
        (
            ("control_symbols", control_symbols),
            ("user_defined_symbols", user_defined_symbols),
        )
    )
    fixed = sorted(set(options) & set(_FIXED_IDS))
    if fixed:
        raise ValueError(
            f"Received an invalid value for argument `{fixed[0]}`: the "
            "special-token ids are fixed to the BigBird-RoBERTa layout "
            f"{_FIXED_IDS}, which SentencePieceTokenizer expects. Received: "
            + ", ".join(f"{name}={options[name]!r}" for name in fixed)
        )
    if files is not None:
        files = _check_files(files)

        def documents():
            return map(read_text_file, files)

    else:
        texts = _check_texts(texts)

        def documents():
            return iter(texts)

    lines = [
        line
        for document in documents()
        for line in _lines(document, max_sentence_length)
    ]
    if not lines:
        argument, value = ("files", files) if files else ("texts", texts)
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: it holds "
            f"no text to train on. Received: {argument}={value!r}"[:400]
        )
    parent = os.path.dirname(model_prefix)
    if parent:
        os.makedirs(parent, exist_ok=True)
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_prefix=model_prefix,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            normalization_rule_name=normalization_rule_name,
            **_FIXED_IDS,
            control_symbols=list(symbols["control_symbols"]),
            user_defined_symbols=list(symbols["user_defined_symbols"]),
            max_sentence_length=max_sentence_length,
            input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True,
            num_threads=num_threads or os.cpu_count() or 1,
            minloglevel=2,
            **options,
        )
    except RuntimeError as error:
        message = str(error)
        argument = "vocab_size" if "vocab" in message.lower() else "options"
        value = vocab_size if argument == "vocab_size" else options
        raise ValueError(
            f"SentencePiece training failed: {message.rstrip('.')}. Received: "
            f"{argument}={value!r}"
        ) from None
    return model_prefix + ".model"
