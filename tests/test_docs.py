"""The Python examples in README.md and docs/ run as written (blocks starting ``# sketch`` excepted;
a block starting ``# continues`` runs after the one before it, in the same session).

They run from the repository root, with ``/tmp/`` redirected to the test's own directory.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples() -> list[tuple[str, str]]:
    """Each page's blocks, a block starting ``# continues`` run after the one before it (as
    one session)."""
    found: list[tuple[str, str]] = []
    for page in PAGES:
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S)):
            if block.startswith("# continues"):
                where, before = found.pop()
                found.append((f"{where}+{i}", before + block))
            elif not block.startswith("# sketch"):
                found.append((f"{page.name}#{i}", block))
    return found


@pytest.mark.parametrize(("where", "code"), examples(), ids=[w for w, _ in examples()])
def test_example_runs(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # examples name files as docs/examples/...; they write under /tmp only
    code = code.replace("/tmp/", f"{tmp_path}/")
    script = tmp_path / "example.py"
    script.write_text(code)
    runpy.run_path(str(script), run_name="__main__")


def test_there_are_examples() -> None:
    assert len(examples()) >= 8
