"""ByMetadata: files sharing the values of MetaKeys, grouped like Standard within each set."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.transformation.splitters import ByMetadata

FILES = {f"/f{i}": ["SE1"] for i in range(8)}
META = {f"/f{i}": {"run": 100 + i % 2, "stream": "EM" if i < 4 else "HAD"} for i in range(8)}


def split(parameters: dict[str, object], files: dict[str, list[str]] = FILES,
          metadata: dict[str, dict[str, object]] | None = META,
          flush: bool = False) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    tasks = ByMetadata(parameters).split(files, flush=flush, metadata=metadata)
    return [(t.target_ses, t.lfns) for t in tasks]


def test_groups_by_one_key() -> None:
    assert split({"MetaKeys": "run", "GroupSize": 4}) == [
        (("SE1",), ("/f0", "/f2", "/f4", "/f6")), (("SE1",), ("/f1", "/f3", "/f5", "/f7"))]


def test_groups_by_several_keys_and_group_size_within_each() -> None:
    assert split({"MetaKeys": ["run", "stream"], "GroupSize": 2}) == [
        (("SE1",), ("/f0", "/f2")), (("SE1",), ("/f1", "/f3")), (("SE1",), ("/f4", "/f6")),
        (("SE1",), ("/f5", "/f7"))]
    assert split({"MetaKeys": "run, stream", "GroupSize": 3}) == []
    assert len(split({"MetaKeys": "run, stream", "GroupSize": 3}, flush=True)) == 4


def test_within_a_set_of_values_files_are_grouped_by_location() -> None:
    files = {"/a": ["SE1"], "/b": ["SE2"], "/c": ["SE1"], "/d": ["SE2"]}
    metadata = {lfn: {"run": 7} for lfn in files}
    assert split({"MetaKeys": "run", "GroupSize": 2}, files, metadata) == [
        (("SE1",), ("/a", "/c")), (("SE2",), ("/b", "/d"))]


def test_files_without_every_key_are_not_grouped() -> None:
    metadata = {**META, "/f0": {"stream": "EM"}}
    del metadata["/f2"]
    tasks = split({"MetaKeys": "run, stream", "GroupSize": 1}, metadata=metadata)
    assert {lfn for _, lfns in tasks for lfn in lfns} == set(FILES) - {"/f0", "/f2"}
    assert split({"MetaKeys": "run"}, metadata=None, flush=True) == []


def test_list_values_compare_as_tuples() -> None:
    files = {"/a": ["SE1"], "/b": ["SE1"]}
    metadata = {"/a": {"tags": ["x", "y"]}, "/b": {"tags": ("x", "y")}}
    assert split({"MetaKeys": "tags", "GroupSize": 2}, files, metadata) == [(("SE1",), ("/a", "/b"))]


@pytest.mark.parametrize(("parameters", "name"), [({}, "MetaKeys"), ({"MetaKeys": ""}, "MetaKeys"),
                                                  ({"MetaKeys": "run", "GroupSize": "many"}, "GroupSize")])
def test_bad_parameters(parameters: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidTransformation, match=name):
        ByMetadata(parameters)
