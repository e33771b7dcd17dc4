"""Splitters are found through ``dirac.splitters``: ours under their class names, and a third
party's (the documented example, installed in a temporary folder) with no change to dirac-core."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from stevedore import ExtensionManager

import dirac_core.transformation.splitters as builtin
from dirac_core.errors import InvalidTransformation, PluginNotFound
from dirac_core.plugins import PluginGroup, available, load_driver
from dirac_core.plugins.splitters import Splitter, TaskGroup
from dirac_core.testing.conformance import SplitterSuite

DOC = Path(__file__).parents[2] / "docs" / "transformations.md"


def test_builtin_splitters_registered_under_their_class_names() -> None:
    assert builtin.__all__ == ["Broadcast", "ByFreeSpace", "ByMetadata", "ByShare", "BySiteList", "BySize",
                               "Standard"]
    for name in builtin.__all__:
        cls = load_driver(PluginGroup.SPLITTERS, name)
        assert cls is getattr(builtin, name) and issubclass(cls, Splitter) and cls.__doc__


def test_unknown_splitter_lists_the_installed_ones() -> None:
    with pytest.raises(PluginNotFound, match="Standard"):
        load_driver(PluginGroup.SPLITTERS, "BySE")


def documented_plugin() -> str:
    """The python block of docs/transformations.md that defines ``ByDirectory``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (block,) = [b for b in blocks if "class ByDirectory(Splitter)" in b]
    return block


@pytest.fixture
def out_of_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution installed in ``tmp_path``: its dist-info declares the documented splitter."""
    dist = tmp_path / "myvo_splitters-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myvo-splitters\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [dirac.splitters]
        ByDirectory = myvo_splitters:ByDirectory
        """))
    (tmp_path / "myvo_splitters.py").write_text(documented_plugin())
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore keeps the entry points of each group for the life of the process (and on disk, by
    # sys.path): a group read before the distribution appeared must be read again
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    yield tmp_path
    sys.modules.pop("myvo_splitters", None)  # the next test's distribution is in another folder


def test_out_of_tree_splitter_found_through_its_entry_point(out_of_tree: Path) -> None:
    assert "ByDirectory" in available(PluginGroup.SPLITTERS)
    cls = load_driver(PluginGroup.SPLITTERS, "ByDirectory")
    assert cls.__module__ == "myvo_splitters" and issubclass(cls, Splitter)
    files = {"/vo/a/1": ["SE1"], "/vo/a/2": ["SE1"], "/vo/b/1": ["SE1"]}
    assert cls({"GroupSize": 2}).split(files) == [TaskGroup(("SE1",), ("/vo/a/1", "/vo/a/2"))]
    with pytest.raises(InvalidTransformation, match="GroupSize"):
        cls({"GroupSize": 0})


@pytest.mark.usefixtures("out_of_tree")
class TestDocumentedSplitterConforms(SplitterSuite):
    """The documented third-party splitter passes the suite, loaded through its entry point."""

    name = "ByDirectory"
    parameters = {"GroupSize": 4}
    bad_parameters = [({"GroupSize": 0}, "GroupSize"), ({"GroupSize": "x"}, "GroupSize")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})
