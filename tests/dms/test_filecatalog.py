"""Several catalogs as one: DIRAC's multiplexer rules (master first, first success on reads)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from dirac_core.config.sections import MemoryCatalogSection
from dirac_core.dms.filecatalog import FileCatalog
from dirac_core.errors import CatalogError, ConfigError, NotFound
from dirac_core.model.identity import Identity
from dirac_core.plugins.catalog import Catalog, DirectoryListing, FileEntry
from dirac_core.testing import MemoryCatalog
from dirac_core.testing.conformance import CatalogSuite, MetadataCatalogSuite

F1 = FileEntry(lfn="/vo/f1", size=1)
F2 = FileEntry(lfn="/vo/f2", size=2)
F3 = FileEntry(lfn="/vo/f3", size=3)


def _keys(arg: object) -> list[str]:
    if isinstance(arg, Mapping):
        return sorted(arg)
    if isinstance(arg, list | tuple):
        return sorted(a.lfn if isinstance(a, FileEntry) else a for a in arg)
    return [str(arg)]


def _without(arg: Any, refused: set[str]) -> Any:
    if isinstance(arg, Mapping):
        return {k: v for k, v in arg.items() if k not in refused}
    return [a for a in arg if (a.lfn if isinstance(a, FileEntry) else a) not in refused]


class Fake(MemoryCatalog):
    """A memory catalog that records its calls, raises in the methods named in ``raises``
    and fails (without doing them) the items named in ``refuses``."""

    def __init__(self, name: str, *, raises: Sequence[str] = (), refuses: Sequence[str] = ()) -> None:
        super().__init__(name)
        self.raises, self.refuses = set(raises), set(refuses)
        self.calls: list[tuple[str, list[str]]] = []
        self.closed = False

    def close(self) -> None:
        self.closed = True


BULK = ("add_files", "add_replicas", "remove_replicas", "remove_files", "create_directories",
        "remove_directories", "get_replicas", "get_files", "exists", "list_directory", "set_metadata",
        "remove_metadata", "get_metadata")
SINGLE = ("add_metadata_field", "metadata_fields", "find_files", "add_dataset", "dataset", "dataset_files",
          "freeze_dataset", "remove_dataset")


def _recorded(name: str, *, bulk: bool) -> Callable[..., Any]:
    base = getattr(MemoryCatalog, name)

    def method(self: Fake, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((name, _keys(args[0]) if args else []))
        if name in self.raises:
            raise CatalogError(f"{self.name} is down")
        if not bulk:
            return base(self, *args, **kwargs)
        refused = self.refuses & set(_keys(args[0]))
        result = base(self, _without(args[0], refused), *args[1:], **kwargs)
        for key in refused:
            result.add_failed(key, CatalogError(f"{self.name} refuses {key}"))
        return result
    return method


for _name in BULK + SINGLE:
    setattr(Fake, _name, _recorded(_name, bulk=_name in BULK))


def section(name: str, *, master: bool = False, read: bool = True, write: bool = True,
            active: bool = True) -> MemoryCatalogSection:
    return MemoryCatalogSection(name=name, master=master, read=read, write=write, active=active)


def called(catalog: Fake, method: str) -> list[list[str]]:
    return [keys for name, keys in catalog.calls if name == method]


@pytest.fixture
def master() -> Fake:
    return Fake("master")


@pytest.fixture
def second() -> Fake:
    return Fake("second")


@pytest.fixture
def both(master: Fake, second: Fake) -> FileCatalog:
    # given secondary first: the master must still come first
    return FileCatalog([(section("second"), second), (section("master", master=True), master)])


# --- construction --------------------------------------------------------------

def test_the_master_comes_first_and_the_others_keep_their_order() -> None:
    cats = [Fake(n) for n in ("a", "b", "m", "c")]
    fc = FileCatalog([(section(c.name, master=c.name == "m"), c) for c in cats])
    assert [m.name for m in fc.members] == ["m", "a", "b", "c"]
    assert fc.master == "m"
    assert FileCatalog([(section("a"), cats[0])]).master is None


@pytest.mark.parametrize(("sections", "message"), [
    ([section("a", master=True), section("b", master=True)], "more than one master catalog: a, b"),
    ([section("a", master=True, write=False)], "a master catalog must be writable"),
    ([section("a"), section("a")], "given twice"),
    ([section("a", active=False)], "no active catalog"),
])
def test_invalid_combinations_are_config_errors(sections: list[MemoryCatalogSection], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FileCatalog([(s, Fake(s.name)) for s in sections])


def test_inactive_catalogs_are_left_out() -> None:
    off, on = Fake("off"), Fake("on")
    fc = FileCatalog([(section("off", master=True, active=False), off), (section("on", master=True), on)])
    assert fc.master == "on" and [m.name for m in fc.members] == ["on"]
    fc.add_files([F1]).raise_for_failures()
    fc.get_files([F1.lfn])
    assert off.calls == []


def test_read_only_and_write_only_catalogs() -> None:
    reader, writer = Fake("reader"), Fake("writer")
    fc = FileCatalog([(section("reader", write=False), reader), (section("writer", read=False), writer)])
    assert fc.add_files([F1]).all_ok
    assert called(reader, "add_files") == [] and called(writer, "add_files") == [[F1.lfn]]
    assert isinstance(fc.get_files([F1.lfn]).failed[F1.lfn], NotFound)  # only the reader is read
    assert called(writer, "get_files") == []
    with pytest.raises(CatalogError, match="no catalog to write to"):
        FileCatalog([(section("reader", write=False), reader)]).remove_files([F1.lfn])
    with pytest.raises(CatalogError, match="no catalog to read from"):
        FileCatalog([(section("writer", read=False), writer)]).exists([F1.lfn])


# --- writes --------------------------------------------------------------------

def test_writes_reach_every_write_catalog_master_first(both: FileCatalog, master: Fake, second: Fake) -> None:
    order: list[str] = []
    master.calls, second.calls = _Spy(order, "master"), _Spy(order, "second")
    assert both.add_files([F1, F2]).all_ok
    assert order == ["master", "second"]
    for catalog in (master, second):
        assert set(catalog.get_files([F1.lfn, F2.lfn]).ok) == {F1.lfn, F2.lfn}
    assert both.add_replicas({F1.lfn: ["SE-1"]}).all_ok
    assert both.create_directories(["/vo/d"]).all_ok
    assert both.remove_replicas({F1.lfn: ["SE-1"]}).all_ok
    assert both.remove_files([F2.lfn]).all_ok
    assert both.remove_directories(["/vo/d"]).all_ok
    for catalog in (master, second):
        assert catalog.get_replicas([F1.lfn]).ok[F1.lfn] == frozenset()
        assert catalog.exists([F2.lfn, "/vo/d"]).ok == {F2.lfn: None, "/vo/d": None}


class _Spy(list[tuple[str, list[str]]]):
    """A call list that also records which catalog was called, across catalogs."""

    def __init__(self, order: list[str], name: str) -> None:
        super().__init__()
        self.order, self.name = order, name

    def append(self, item: tuple[str, list[str]]) -> None:
        self.order.append(self.name)
        super().append(item)


def test_an_item_the_master_fails_is_not_sent_to_the_others(second: Fake) -> None:
    master = Fake("master", refuses=[F2.lfn])
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    res = fc.add_files([F1, F2, F3])
    assert set(res.ok) == {F1.lfn, F3.lfn}
    assert res.failed[F2.lfn].catalog == "master"  # type: ignore[attr-defined]
    assert res.failed[F2.lfn].fields["catalog"] == "master"
    assert called(second, "add_files") == [[F1.lfn, F3.lfn]]
    assert second.exists([F2.lfn]).ok[F2.lfn] is None


def test_an_exception_from_the_master_aborts_the_call(second: Fake) -> None:
    master = Fake("master", raises=["add_files", "set_metadata"])
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    with pytest.raises(CatalogError, match="master is down"):
        fc.add_files([F1])
    with pytest.raises(CatalogError, match="master is down"):
        fc.set_metadata({"/vo": {"x": 1}})
    assert second.calls == []


def test_an_exception_from_another_catalog_fails_its_items(master: Fake) -> None:
    second = Fake("second", raises=["add_files"])
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    res = fc.add_files([F1, F2])
    assert set(res.failed) == {F1.lfn, F2.lfn}
    error = res.failed[F1.lfn]
    assert isinstance(error, CatalogError) and error.fields["catalog"] == "second"
    assert "second is down" in str(error) and isinstance(error.__cause__, CatalogError)
    assert set(master.get_files([F1.lfn, F2.lfn]).ok) == {F1.lfn, F2.lfn}  # the master has done it


def test_an_item_failed_by_another_catalog_keeps_that_catalogs_error(both: FileCatalog, master: Fake,
                                                                     second: Fake) -> None:
    master.add_files([F1])  # only the master knows F1
    both.add_files([F2]).raise_for_failures()
    res = both.add_replicas({F1.lfn: ["SE-1"], F2.lfn: ["SE-1"]})
    assert set(res.ok) == {F2.lfn}
    assert isinstance(res.failed[F1.lfn], NotFound) and res.failed[F1.lfn].fields["catalog"] == "second"


def test_without_master_every_catalog_gets_every_item() -> None:
    first = Fake("first", refuses=[F1.lfn], raises=["remove_files"])
    third = Fake("third", refuses=[F1.lfn])
    second = Fake("second")
    fc = FileCatalog([(section("first"), first), (section("second"), second), (section("third"), third)])
    res = fc.add_files([F1, F2])
    assert called(second, "add_files") == [[F1.lfn, F2.lfn]]
    assert set(res.ok) == {F2.lfn}
    error = res.failed[F1.lfn]
    assert error.fields["catalog"] == "first"
    assert any("also failed in catalog third" in note for note in error.__notes__)
    removed = fc.remove_files([F2.lfn])  # the first raises: the others still run
    assert removed.failed[F2.lfn].fields["catalog"] == "first"
    assert second.exists([F2.lfn]).ok[F2.lfn] is None and third.exists([F2.lfn]).ok[F2.lfn] is None


# --- reads ---------------------------------------------------------------------

def test_reads_take_the_first_success_per_item(both: FileCatalog, master: Fake, second: Fake) -> None:
    master.add_files([F1])
    master.add_replicas({F1.lfn: ["SE-M"]})
    second.add_files([F1, F2])
    second.add_replicas({F1.lfn: ["SE-S"], F2.lfn: ["SE-S"]})
    res = both.get_replicas([F1.lfn, F2.lfn, F3.lfn])
    assert res.ok == {F1.lfn: {"SE-M"}, F2.lfn: {"SE-S"}}  # never merged
    assert isinstance(res.failed[F3.lfn], NotFound) and res.failed[F3.lfn].fields["catalog"] == "master"
    assert called(second, "get_replicas") == [[F2.lfn, F3.lfn]]  # only what the master did not answer
    assert both.get_files([F2.lfn]).ok[F2.lfn] == F2
    listing = both.list_directory(["/vo"]).ok["/vo"]
    assert listing == DirectoryListing(files=(F1.lfn,))  # the master's listing
    # DIRAC's rule: the master's "does not exist" is a success, so it wins
    assert both.exists([F2.lfn]).ok[F2.lfn] is None


def test_a_raising_reader_is_skipped(master: Fake) -> None:
    first = Fake("first", raises=["get_files"])
    fc = FileCatalog([(section("first"), first), (section("master", master=True), master)])
    master.add_files([F1])
    # the master is asked first and answers; the other one is asked for what is left
    res = fc.get_files([F1.lfn, F2.lfn])
    assert res.ok == {F1.lfn: F1} and set(res.failed) == {F2.lfn}
    assert res.failed[F2.lfn].fields["catalog"] == "master"


def test_when_every_reader_raises_the_first_exception_propagates() -> None:
    one, two = Fake("one", raises=["get_files"]), Fake("two", raises=["get_files"])
    fc = FileCatalog([(section("one"), one), (section("two"), two)])
    with pytest.raises(CatalogError, match="one is down") as info:
        fc.get_files([F1.lfn])
    assert any("catalog two failed too" in note for note in info.value.__notes__)


# --- metadata ------------------------------------------------------------------

def test_metadata_writes_follow_the_write_rules(second: Fake) -> None:
    master = Fake("master", refuses=["/vo/b"])
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    field = fc.add_metadata_field("zenith", "int", for_files=False)
    assert field.name == "zenith" and [f.name for f in second.metadata_fields()] == ["zenith"]
    for catalog in (master, second):
        MemoryCatalog.create_directories(catalog, ["/vo/a", "/vo/b"]).raise_for_failures()
    res = fc.set_metadata({"/vo/a": {"zenith": 1}, "/vo/b": {"zenith": 2}})
    assert set(res.ok) == {"/vo/a"} and res.failed["/vo/b"].fields["catalog"] == "master"
    assert called(second, "set_metadata") == [["/vo/a"]]
    assert fc.get_metadata(["/vo/a"]).ok["/vo/a"] == {"zenith": 1}
    assert fc.remove_metadata({"/vo/a": ["zenith"]}).all_ok
    assert second.get_metadata(["/vo/a"]).ok["/vo/a"] == {}


def test_calls_without_items_answer_from_the_master(caplog: pytest.LogCaptureFixture) -> None:
    master, second = Fake("master"), Fake("second", raises=["add_metadata_field", "add_dataset"])
    fc = FileCatalog([(section("second"), second), (section("master", master=True), master)])
    with caplog.at_level(logging.WARNING, logger="dirac_core.dms.filecatalog"):
        assert fc.add_metadata_field("zenith", "int", for_files=False).name == "zenith"
        assert second.metadata_fields() == []
        MemoryCatalog.add_metadata_field(second, "zenith", "int", for_files=False)
        fc.add_files([F1]).raise_for_failures()
        fc.set_metadata({"/vo": {"zenith": 3}}).raise_for_failures()
        assert fc.add_dataset("/vo/sets/all", {"zenith": 3}).files == 1
    assert "add_metadata_field failed in catalog second" in caplog.text
    assert "add_dataset failed in catalog second" in caplog.text
    assert fc.find_files({"zenith": 3}) == [F1.lfn]
    assert fc.dataset("/vo/sets/all").files == 1 and fc.dataset_files("/vo/sets/all") == [F1.lfn]
    assert fc.freeze_dataset("/vo/sets/all").frozen
    fc.remove_dataset("/vo/sets/all")
    with pytest.raises(NotFound):
        fc.dataset("/vo/sets/all")
    assert [name for name, _ in master.calls if name in SINGLE][-1] == "dataset"


def test_a_master_exception_aborts_a_call_without_items(second: Fake) -> None:
    master = Fake("master", raises=["add_dataset"])
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    with pytest.raises(CatalogError, match="master is down"):
        fc.add_dataset("/vo/sets/x", {"Size": 1})
    assert called(second, "add_dataset") == []


def test_metadata_reads_take_the_first_answer(master: Fake, second: Fake) -> None:
    fc = FileCatalog([(section("master", master=True), master), (section("second"), second)])
    second.add_metadata_field("zenith", "int", for_files=False)
    second.add_dataset("/vo/sets/only-second", {"zenith": 1})
    # unknown to the master (NotFound, QueryError): the second answers
    assert fc.dataset("/vo/sets/only-second").name == "/vo/sets/only-second"
    assert fc.find_files({"zenith": 1}) == []
    assert called(second, "find_files") == [["zenith"]]
    assert fc.metadata_fields() == []  # the master's (empty) answer is an answer
    with pytest.raises(NotFound) as info:
        fc.dataset_files("/vo/sets/none")
    assert any("catalog second failed too" in note for note in info.value.__notes__)


class Plain(Catalog):
    """A catalog without metadata (delegates to a memory catalog)."""

    def __init__(self) -> None:
        self.inner = MemoryCatalog("plain")

    def add_files(self, files: Sequence[FileEntry]) -> Any:
        return self.inner.add_files(files)

    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> Any:
        return self.inner.add_replicas(replicas)

    def get_replicas(self, lfns: Sequence[str]) -> Any:
        return self.inner.get_replicas(lfns)

    def get_files(self, lfns: Sequence[str]) -> Any:
        return self.inner.get_files(lfns)

    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> Any:
        return self.inner.remove_replicas(replicas)

    def remove_files(self, lfns: Sequence[str]) -> Any:
        return self.inner.remove_files(lfns)

    def exists(self, paths: Sequence[str]) -> Any:
        return self.inner.exists(paths)

    def create_directories(self, paths: Sequence[str]) -> Any:
        return self.inner.create_directories(paths)

    def list_directory(self, paths: Sequence[str]) -> Any:
        return self.inner.list_directory(paths)

    def remove_directories(self, paths: Sequence[str]) -> Any:
        return self.inner.remove_directories(paths)


def test_metadata_needs_a_master_with_metadata(second: Fake) -> None:
    fc = FileCatalog([(section("plain", master=True), Plain()), (section("second"), second)])
    assert fc.add_files([F1]).all_ok  # plain catalog calls work
    with pytest.raises(CatalogError, match="master catalog plain has no metadata"):
        fc.add_metadata_field("zenith", "int", for_files=False)
    with pytest.raises(CatalogError, match="master catalog plain has no metadata"):
        fc.set_metadata({F1.lfn: {}})
    assert fc.find_files({"Size": 1}) == [F1.lfn]  # reads use the catalogs that have metadata
    alone = FileCatalog([(section("plain"), Plain())])
    with pytest.raises(CatalogError, match="no write catalog has metadata"):
        alone.add_dataset("/vo/x", {})
    with pytest.raises(CatalogError, match="no read catalog has metadata"):
        alone.find_files({"Size": 1})


# --- views and lifecycle ---------------------------------------------------------

class Guarded(Fake):
    """A catalog whose views are distinct objects remembering the identity."""

    def acting_as(self, identity: Identity | None) -> Guarded:
        view = Guarded(f"{self.name}-view")
        view.identity = identity  # type: ignore[attr-defined]
        return view


def test_acting_as_gives_a_file_catalog_of_views() -> None:
    a, b = Guarded("a"), Guarded("b")
    fc = FileCatalog([(section("a", master=True), a), (section("b", read=False), b)])
    alice = Identity(user="alice", group="users", vo="vo")
    view = fc.acting_as(alice)
    assert isinstance(view, FileCatalog) and view is not fc
    assert [(m.name, m.master, m.read) for m in view.members] == [("a", True, True), ("b", False, False)]
    assert [m.catalog.identity for m in view.members] == [alice, alice]  # type: ignore[attr-defined]
    assert all(m.catalog is not orig for m, orig in zip(view.members, (a, b), strict=True))
    view.close()
    assert not a.closed and not b.closed
    with fc:
        pass
    assert a.closed and b.closed


def test_closing_closes_every_member_even_after_a_failure() -> None:
    class Broken(Fake):
        def close(self) -> None:
            raise CatalogError("cannot close")

    ok = Fake("ok")
    fc = FileCatalog([(section("broken"), Broken("broken")), (section("ok"), ok)])
    with pytest.raises(CatalogError, match="cannot close"):
        fc.close()
    assert ok.closed


# --- a file catalog is a catalog: it passes the suites -----------------------------

def _pair() -> FileCatalog:
    return FileCatalog([(section("m", master=True), MemoryCatalog("m")), (section("s"), MemoryCatalog("s"))])


class TestFileCatalogIsACatalog(CatalogSuite):
    @pytest.fixture
    def driver(self) -> FileCatalog:
        return _pair()


class TestFileCatalogIsAMetadataCatalog(MetadataCatalogSuite):
    @pytest.fixture
    def driver(self) -> FileCatalog:
        return _pair()
