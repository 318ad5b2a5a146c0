"""The worked examples in docs/ run as written and print what the page says they print.

Each ```python block is executed in order in one namespace; the ```text block that
follows it is its exact expected output.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

from countnets.stats import tolerance

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["measures.md", "rare-events.md"]


def _examples(page: str) -> list[tuple[str, str]]:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```(python|text)\n(.*?)```", text, flags=re.S)
    out = []
    for (kind, code), nxt in zip(blocks, blocks[1:] + [("", "")], strict=True):
        if kind == "python":
            assert nxt[0] == "text", f"{page}: every python block is followed by its output"
            out.append((code, nxt[1]))
    return out


@pytest.mark.parametrize("page", PAGES)
def test_doc_examples_print_what_the_page_says(page):
    examples = _examples(page)
    assert examples
    namespace: dict = {}
    for code, expected in examples:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/{page}", "exec"), namespace)
        # Printed floats are recomputed here: equal within one unit of their last digit (countnets.stats.tolerance).
        assert tolerance.text_mismatches(expected, printed.getvalue()) == [], code
