"""Each example in --smoke mode, in-process; TFDS examples under
tfds.testing.mock_data with long generated documents."""

import glob
import importlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

pytestmark = pytest.mark.tf_only


def check_run(result, inputs):
    """The files of a run, and the saved model predicting as the trained one."""
    directory = result.output_dir
    for split in ("train", "validation"):
        events = glob.glob(
            os.path.join(result.log_dir, split, "events.out.tfevents.*")
        )
        assert events, f"no TensorBoard events in logs/{split}"
    assert os.path.getsize(result.checkpoint_path) > 0
    loaded = keras.saving.load_model(result.model_path)
    assert type(loaded) is type(result.model)
    expected = keras.tree.map_structure(
        np.asarray, result.model(inputs, training=False)
    )
    got = keras.tree.map_structure(np.asarray, loaded(inputs, training=False))
    keras.tree.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
        expected,
        got,
    )
    with open(os.path.join(directory, "figures.json")) as f:
        assert json.load(f) == result.figures
    return loaded


def preprocessed(result, texts):
    """`texts` through the saved preprocessor.json (tokenizer, packer)."""
    with open(result.preprocessor_path) as f:
        tokenizer, packer = [
            keras.saving.deserialize_keras_object(c) for c in json.load(f)
        ]
    return tokenizer, packer, packer(tokenizer(tf.constant(texts)))


@pytest.mark.parametrize(
    "module, name, splits",
    [
        (
            "imdb_classification",
            "imdb_reviews/plain_text",
            ["train[:16]", "train[:16]", "train[16:24]", "test[:8]"],
        ),
        (
            "arxiv_regression",
            "scientific_papers/arxiv",
            ["train[:16]", "train[:16]", "validation[:8]", "test[:8]"],
        ),
    ],
)
def test_tfds_examples(fake_tfds, tmp_path, module, name, splits):
    import importlib

    from tests.examples.conftest import long_documents

    example = importlib.import_module(module)
    output_dir = str(tmp_path / module)
    result = example.main(["--smoke", "--output-dir", output_dir])
    # The tokenizer's corpus, then train, validation, test: all tfds.load.
    assert fake_tfds == [(name, split) for split in splits]
    # The SentencePiece model trained on the training texts, beside the
    # model, is the tokenizer the saved preprocessor holds.
    spm_file = os.path.join(output_dir, "spm.model")
    tokenizer, _, inputs = preprocessed(result, long_documents(7)[:2])
    with open(spm_file, "rb") as f:
        assert tokenizer.proto == f.read()
    assert inputs["token_ids"].shape == (2, 128)
    check_run(result, inputs)
    figures = result.figures
    # The test split is the fourth tfds.load: its documents, recomputed
    # here, through the saved preprocessor and the saved model.
    _, _, test_inputs = preprocessed(result, long_documents(4))
    predicted = keras.saving.load_model(result.model_path).predict(
        {k: np.asarray(v) for k, v in test_inputs.items()}, verbose=0
    )
    if module == "imdb_classification":
        assert figures["task"] == "sentiment"
        # Labels alternate 0/1 over 24 documents.
        labels = np.arange(24) % 2
        assert figures["test majority_accuracy"] == 0.5
        # The reported accuracy is that of the saved model on these.
        assert figures["test accuracy"] == pytest.approx(
            np.mean(np.argmax(predicted, -1) == labels), abs=1e-6
        )
        assert result.model.output.shape == (None, 2)
    else:
        assert figures["task"] == "abstract_length"
        # Abstracts of 3 i + 1 words: the labels log1p(3 i + 1).
        labels = np.log1p(3 * np.arange(24) + 1)
        assert figures["test mean_predictor_rmse"] == pytest.approx(
            labels.std(), rel=1e-5
        )
        assert figures["test rmse"] == pytest.approx(
            np.sqrt(np.mean((predicted[:, 0] - labels) ** 2)), rel=1e-4
        )
        assert result.model.output.shape == (None, 1)


def test_long_context_qa_learns_the_planted_span(tmp_path):
    import long_context_qa

    output_dir = str(tmp_path / "qa")
    result = long_context_qa.main(["--smoke", "--output-dir", output_dir])
    figures = result.figures
    chance = figures["chance start accuracy (1 / passage tokens)"]
    assert chance == 1 / (128 - 7 - 3)
    # 48 steps find the answer far more often than chance (0.85%): start
    # 0.59 and exact match 0.22 when measured.
    assert figures["test start accuracy"] > 0.3
    assert figures["test exact match"] > 0.1
    assert os.path.getsize(figures["learning curve"]) > 1000
    config = {
        "num_facts": 1,
        "answer_length": 2,
        "num_keys": 100,
        "num_values": long_context_qa.DEFAULTS["num_values"],
        "filler_words": 200,
        "seed": 0,
        "max_sequence_length": 128,
    }
    # The vocabulary beside the model is the one the example generates.
    words = long_context_qa.make_vocabulary(config, np.random.default_rng(0))
    tokenizer = long_context_qa.WordPieceTokenizer(
        os.path.join(output_dir, "vocabulary.txt")
    )
    assert tokenizer.get_vocabulary() == words[0]
    packer = long_context_qa.BlockPacker.from_tokenizer(
        tokenizer, 128, block_size=16
    )
    inputs, labels = long_context_qa.packed_examples(
        config, words, tokenizer, packer, 4, seed=[0, 9]
    )
    assert inputs["token_ids"].shape == (4, 128)
    check_run(result, inputs)


def test_question_answer_generation():
    import long_context_qa

    config = {
        "num_facts": 3,
        "answer_length": 3,
        "num_keys": 10,
        "num_values": 10,
        "filler_words": 50,
    }
    rng = np.random.default_rng(1)
    words = long_context_qa.make_vocabulary(config, rng)
    asked = set()
    for same_attribute in (False, True):
        config["same_attribute"] = same_attribute
        questions, passages, spans = long_context_qa.generate(
            config, words, 20, rng, passage_words=300
        )
        for question, passage, (start, end) in zip(questions, passages, spans):
            passage = passage.split()
            assert len(passage) == 300 and end - start == 2
            attribute, key = question.split()[3], question.split()[-2]
            asked.add(attribute)
            # The span follows "<asked attribute> of <asked key> is" and
            # ends before ".".
            assert passage[start - 4 : start] == [attribute, "of", key, "is"]
            assert passage[end + 1] == "."
            # Word j of an answer is one of the j-th share of the words of
            # its attribute.
            for j, word in enumerate(passage[start : end + 1]):
                assert word in words[3][attribute][j::3]
            keys = [w for w in passage if w in words[2]]
            assert len(set(keys)) == 3
            # Each fact gives its own attribute, or all give a code.
            facts = [passage[i - 2] for i, w in enumerate(passage)
                     if w in words[2]]
            assert len(facts) == 3
            if same_attribute:
                assert facts == ["code"] * 3
            else:
                assert len(set(facts)) == 3
                assert set(facts) <= set(long_context_qa.ATTRIBUTES)
    # The question names each attribute in turn, so it decides the answer.
    assert len(asked) >= 5
    with pytest.raises(ValueError, match="cannot hold"):
        long_context_qa.generate(config, words, 1, rng, passage_words=20)
    config.update(same_attribute=False, num_facts=9, num_keys=10)
    with pytest.raises(ValueError, match="num_facts=9 > 8 attributes"):
        long_context_qa.generate(config, words, 1, rng, passage_words=300)


def test_dna_kmer_tokenizer_and_smoke_run(tmp_path):
    import dna_classification

    output_dir = str(tmp_path / "dna")
    result = dna_classification.main(["--smoke", "--output-dir", output_dir])
    sequences = ["ACGTTGCA", "GGGAAACCCTTTA", "ACG"]
    tokenizer, packer, inputs = preprocessed(result, sequences)
    with open(os.path.join(output_dir, "vocabulary.txt")) as f:
        assert f.read().split() == tokenizer.get_vocabulary()
    # Non-overlapping 3-mers, the tail as a shorter piece (the vocabulary
    # is lower-case: the tokenizer case-folds).
    for sequence, ids in zip(sequences, tokenizer(sequences).to_list()):
        pieces = [tokenizer.id_to_token(i).removeprefix("##") for i in ids]
        assert pieces == [
            sequence[i : i + 3].lower() for i in range(0, len(sequence), 3)
        ]
    assert inputs["token_ids"].shape == (3, 16)
    check_run(result, inputs)
    figures = result.figures
    assert figures["test sequences"] == 16
    assert 0 < figures["test padding efficiency"] <= 1
    check_dna_test_accuracy(dna_classification, output_dir, result)
    check_dna_serves_raw_sequences(result, tmp_path)
    curve = figures["learning curve"]
    if curve is not None:  # None without matplotlib
        assert curve == os.path.join(output_dir, "learning_curve.png")
        with open(curve, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_dna_default_motifs_hold_a_whole_kmer_at_any_offset(tmp_path):
    """The defaults' reason to be learnable: a motif of 2k - 1 bases holds
    a whole k-mer token (one of its own k-mers) wherever it starts, one of
    2k - 2 may hold none, and the default sequences fit the packer."""
    import dna_classification as dna

    config = dna.common.parse(
        [], dna.__doc__, dna.common.MODEL_AND_FIT, dna.DEFAULTS, dna.SMOKE,
        dna.add_arguments,
    )
    k, length = config["kmer"], config["motif_length"]
    assert (k, length) == (6, 11)
    tokenizer = dna.kmer_tokenizer(k, str(tmp_path / "vocabulary.txt"))
    rng = np.random.default_rng(0)

    def whole_kmers(motif, offset):
        """The motif's k-mers among the tokens of a sequence holding it
        after `offset` bases."""
        sequence = (
            dna._random_bases(rng, offset) + motif
            + dna._random_bases(rng, 3 * k)
        )
        ids = tokenizer(sequence).numpy()
        pieces = [tokenizer.id_to_token(i).removeprefix("##") for i in ids]
        kmers = {motif[i : i + k].lower() for i in range(len(motif) - k + 1)}
        # A token wholly inside the copy starts at a multiple of k.
        inside = [
            pieces[j] for j in range(len(pieces))
            if offset <= j * k and (j + 1) * k <= offset + len(motif)
        ]
        assert set(inside) <= kmers
        return inside

    motif = dna._random_bases(rng, length)
    for offset in range(3 * k):
        assert len(whole_kmers(motif, offset)) == 1
    shorter = motif[: 2 * k - 2]
    assert min(len(whole_kmers(shorter, o)) for o in range(k)) == 0
    # The longest sequence's tokens, [CLS] and [SEP] fit: none is cut.
    tokens = -(-config["max_length"] // k) + 2
    assert tokens <= config["max_sequence_length"] < tokens + 16


def check_dna_test_accuracy(dna, output_dir, result):
    """The test split regenerated here follows the motif rule, and the
    reported accuracy is the saved model's on it."""
    common = dna.common
    config = common.parse(
        ["--smoke", "--output-dir", output_dir], dna.__doc__,
        common.MODEL_AND_FIT, dna.DEFAULTS, dna.SMOKE, dna.add_arguments,
    )
    motifs = result.figures["motifs"].split()
    sequences, labels = dna.generate(
        config, motifs, config["test_examples"],
        np.random.default_rng([config["seed"], 2]),
    )
    assert len(set(motifs)) == len(motifs) == config["num_classes"] - 1
    assert {len(m) for m in motifs} == {config["motif_length"]}
    for sequence, label in zip(sequences, labels):
        present = [m in sequence for m in motifs]
        assert present == [c == label - 1 for c in range(len(motifs))]
    # The baseline printed beside the accuracy is these labels' majority.
    counts = np.bincount(labels, minlength=config["num_classes"])
    assert result.figures["test majority_accuracy"] == pytest.approx(
        counts.max() / len(labels)
    )
    _, _, inputs = preprocessed(result, list(sequences))
    predicted = keras.saving.load_model(result.model_path).predict(
        {k: np.asarray(v) for k, v in inputs.items()}, verbose=0
    )
    assert result.figures["test accuracy"] == pytest.approx(
        np.mean(np.argmax(predicted, -1) == labels), abs=1e-6
    )


def check_dna_serves_raw_sequences(result, tmp_path):
    """Lower-case sequences, and ones longer than --max-length (360 bases in
    --smoke), through the saved preprocessor and the exported `serve_text`:
    the k-mers of the upper-case sequence, cut by the packer, never one
    [UNK]."""
    from keras_bigbird.export import export_for_serving

    rng = np.random.default_rng(0)
    long = "".join(rng.choice(list("ACGT"), 1000))
    upper = [long, "ACGTTGCA", "GGGAAACCCTTTA"]
    raw = [long.lower(), "acgTTgca", "GGGaaaCCCtttA"]
    tokenizer, packer, want = preprocessed(result, upper)
    _, _, got = preprocessed(result, raw)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    ids = tokenizer(long).numpy()
    assert len(ids) == 334 and tokenizer.unk_token_id not in ids
    # 1000 bases are 334 3-mers: the packer keeps the first 126 (128 with
    # [CLS] and [SEP] in --smoke).
    assert packer.max_sequence_length == 128
    assert want["token_ids"].shape == (3, packer.max_sequence_length)
    np.testing.assert_array_equal(
        want["token_ids"][0],
        [packer.cls_id, *ids[: packer.max_sequence_length - 2], packer.sep_id],
    )
    path = export_for_serving(
        result.model,
        tmp_path / "serving",
        name="dna",
        preprocessor=[tokenizer, packer],
        warmup_lengths=[8],
    )
    served = tf.saved_model.load(path).signatures["serve_text"]
    logits = served(text=tf.constant(raw))["logits"].numpy()
    features = {k: np.asarray(v) for k, v in want.items()}
    np.testing.assert_allclose(
        logits, result.model.predict(features, verbose=0), atol=1e-5
    )


def test_dna_generation_plants_only_the_class_motif():
    import dna_classification

    config = {
        "num_classes": 3,
        "motif_length": 6,
        "motif_copies": 2,
        "min_length": 50,
        "max_length": 90,
    }
    motifs = ["ACGTAC", "TTGACA"]
    sequences, labels = dna_classification.generate(
        config, motifs, 200, np.random.default_rng(0)
    )
    assert set(labels) == {0, 1, 2}
    for sequence, label in zip(sequences, labels):
        assert 50 <= len(sequence) <= 90 and set(sequence) <= set("ACGT")
        present = [i + 1 for i, m in enumerate(motifs) if m in sequence]
        assert present == ([label] if label else [])


@pytest.mark.parametrize(
    "module",
    [
        "imdb_classification",
        "arxiv_regression",
        "long_context_qa",
        "dna_classification",
    ],
)
def test_help(module, capsys):
    import importlib

    example = importlib.import_module(module)
    with pytest.raises(SystemExit) as exit_info:
        example.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--smoke",
        "--preset",
        "--max-sequence-length",
        "--batch-size",
        "--epochs",
        "--output-dir",
    ):
        assert flag in text
    assert "(default:bigbird_tiny)" in "".join(text.split())


def test_example_runs_as_a_script():
    """`python examples/<name>.py` finds `common` beside it."""
    import subprocess
    import sys

    from tests.examples.conftest import EXAMPLES_DIR

    done = subprocess.run(
        [
            sys.executable,
            os.path.join(EXAMPLES_DIR, "dna_classification.py"),
            "--help",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("usage: dna_classification.py")
    assert "--kmer KMER" in done.stdout


@pytest.mark.parametrize(
    "example, flag",
    [
        ("long_context_qa", "--patience"),
        ("long_context_qa", "--bucket-width"),
        ("dna_classification", "--validation-fraction"),
    ],
)
def test_a_flag_the_example_does_not_use_is_a_usage_error(
    example, flag, capsys
):
    module = importlib.import_module(example)
    with pytest.raises(SystemExit) as exit:
        module.main([f"{flag}=3"])
    assert exit.value.code == 2
    assert f"{flag} does not apply to this example" in capsys.readouterr().err
