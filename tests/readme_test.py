"""The README's self-contained Python examples run as shown."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_block(section):
    """The first ```python block under the heading `## section`."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    return match.group(1)


def run(code):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    return printed.getvalue()


def test_quick_start_runs_and_prints_the_shape_it_shows():
    code = python_block("Quick start")
    shown = re.search(r"# (\(\d+, \d+\))", code).group(1)
    assert run(code).strip() == shown


def test_encoder_and_task_models_example_learns_what_it_shows():
    # A classifier fit on raw strings through its own preprocessor.
    code = python_block("Encoder and task models")
    shown = re.search(r"# (held-out accuracy: [\d.]+)", code).group(1)
    assert run(code).strip() == shown


def test_attention_graphs_example_prints_what_it_shows():
    code = python_block("Attention graphs")
    shown = re.search(r"# (\(2, 1000, 64\) [0-9.]+)", code).group(1)
    assert run(code).strip() == shown


def test_causal_language_model_learns_what_it_shows():
    text = README.read_text()
    start = text.index("A tiny causal\nlanguage model")
    code = re.compile(r"```python\n(.*?)```", re.S).search(text, start).group(1)
    shown = re.search(r"# (next-token accuracy .*)", code).group(1)
    assert run(code).strip() == shown
