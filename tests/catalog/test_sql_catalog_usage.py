"""Directory usage is kept incrementally for a directory and all its ancestors; statuses and visibility."""

from __future__ import annotations

import pytest

from dirac_core.errors import CatalogError, NotFound
from dirac_core.model.catalog import FileStatus
from dirac_core.plugins.catalog import FileEntry
from dirac_plugins_catalog.sql import SEUsage, SQLFileCatalog
from dirac_plugins_catalog.sql.usage import recompute


def entry(lfn: str, size: int) -> FileEntry:
    return FileEntry(lfn=lfn, size=size, checksum="00000001")


def usage_of(catalog: SQLFileCatalog, path: str) -> tuple[int, int, dict[str, SEUsage]]:
    u = catalog.directory_usage([path]).ok[path]
    return u.files, u.size, dict(u.replicas)


def assert_consistent(catalog: SQLFileCatalog) -> None:
    """The incremental figures equal those computed from scratch."""
    from sqlalchemy import select

    from dirac_core.db.tables.catalog import usage

    with catalog.database.begin(read_only=True) as conn:
        stored = {(d, s): SEUsage(int(n), int(b)) for d, s, n, b in conn.execute(
            select(usage.c.dir_id, usage.c.se_id, usage.c.files, usage.c.size)) if n or b}
        assert stored == recompute(conn)


def test_usage_follows_every_write(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/a/x", 10), entry("/vo/a/b/y", 20)],
                      replicas={"/vo/a/x": ["SE-1"], "/vo/a/b/y": ["SE-1", "SE-2"]}).raise_for_failures()
    assert usage_of(catalog, "/vo") == (2, 30, {"SE-1": SEUsage(2, 30), "SE-2": SEUsage(1, 20)})
    assert usage_of(catalog, "/vo/a/b") == (1, 20, {"SE-1": SEUsage(1, 20), "SE-2": SEUsage(1, 20)})
    assert usage_of(catalog, "/") == usage_of(catalog, "/vo")
    assert_consistent(catalog)

    catalog.add_replicas({"/vo/a/x": ["SE-2", "SE-1"]}).raise_for_failures()  # SE-1 is there already
    assert usage_of(catalog, "/vo")[2] == {"SE-1": SEUsage(2, 30), "SE-2": SEUsage(2, 30)}
    # the last replica goes: the logical figures stay
    catalog.remove_replicas({"/vo/a/b/y": ["SE-1", "SE-2"]}).raise_for_failures()
    assert usage_of(catalog, "/vo/a/b") == (1, 20, {})
    assert usage_of(catalog, "/vo") == (2, 30, {"SE-1": SEUsage(1, 10), "SE-2": SEUsage(1, 10)})
    assert_consistent(catalog)
    # removing the file decrements the logical figures and those of the replicas it still had
    catalog.remove_files(["/vo/a/b/y", "/vo/a/x"]).raise_for_failures()
    assert usage_of(catalog, "/vo") == (0, 0, {})
    assert_consistent(catalog)


def test_identical_re_registration_counts_once(catalog: SQLFileCatalog) -> None:
    for _ in range(2):
        catalog.add_files([entry("/vo/a", 5)], replicas={"/vo/a": ["SE-1"]}).raise_for_failures()
    assert usage_of(catalog, "/vo") == (1, 5, {"SE-1": SEUsage(1, 5)})
    assert isinstance(catalog.directory_usage(["/vo/none"]).failed["/vo/none"], NotFound)


def test_rebuild_directory_usage(catalog: SQLFileCatalog) -> None:
    from sqlalchemy import delete

    from dirac_core.db.tables.catalog import usage

    catalog.add_files([entry("/vo/a/x", 10)], replicas={"/vo/a/x": ["SE-1"]}).raise_for_failures()
    with catalog.database.begin() as conn:
        conn.execute(delete(usage))
    assert usage_of(catalog, "/vo")[0] == 0
    catalog.rebuild_directory_usage()
    assert usage_of(catalog, "/vo") == (1, 10, {"SE-1": SEUsage(1, 10)})


def test_file_statuses(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/a", 1), entry("/vo/b", 2)], replicas={"/vo/a": ["SE-1"], "/vo/b": ["SE-1"]})
    assert catalog.file_status(["/vo/a"]).ok == {"/vo/a": FileStatus.APRIORI_GOOD}
    res = catalog.set_file_status({"/vo/a": "Trash", "/vo/b": "Happy", "/vo/none": "Trash"})
    assert set(res.ok) == {"/vo/a"}
    assert "Happy" in str(res.failed["/vo/b"]) and isinstance(res.failed["/vo/b"], CatalogError)
    assert isinstance(res.failed["/vo/none"], NotFound)
    # a hidden file: missing for default reads, there for exists and with all_status
    assert isinstance(catalog.get_replicas(["/vo/a"]).failed["/vo/a"], NotFound)
    assert catalog.get_replicas(["/vo/a"], all_status=True).ok["/vo/a"] == {"SE-1"}
    assert catalog.exists(["/vo/a"]).ok["/vo/a"] == "file"
    assert isinstance(catalog.replica_status(["/vo/a"]).failed["/vo/a"], NotFound)
    assert catalog.file_status(["/vo/a"]).ok["/vo/a"] is FileStatus.TRASH
    catalog.set_file_status({"/vo/a": FileStatus.APRIORI_GOOD}).raise_for_failures()
    assert catalog.get_replicas(["/vo/a"]).ok["/vo/a"] == {"SE-1"}


def test_replica_statuses_and_visibility(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/a", 1)], replicas={"/vo/a": ["SE-1", "SE-2"]}).raise_for_failures()
    res = catalog.set_replica_status({"/vo/a": {"SE-1": "Probing"}, "/vo/none": {"SE-1": "Trash"}})
    assert set(res.ok) == {"/vo/a"} and isinstance(res.failed["/vo/none"], NotFound)
    missing = catalog.set_replica_status({"/vo/a": {"SE-9": "Trash"}})
    assert isinstance(missing.failed["/vo/a"], NotFound)
    bad = catalog.set_replica_status({"/vo/a": {"SE-2": "Gone"}})
    assert isinstance(bad.failed["/vo/a"], CatalogError)
    assert catalog.get_replicas(["/vo/a"]).ok["/vo/a"] == {"SE-2"}
    assert catalog.get_replicas(["/vo/a"], all_status=True).ok["/vo/a"] == {"SE-1", "SE-2"}
    assert catalog.replica_status(["/vo/a"]).ok["/vo/a"] == {"SE-1": FileStatus.PROBING,
                                                             "SE-2": FileStatus.APRIORI_GOOD}


@pytest.mark.parametrize("status", [s for s in FileStatus if s is not FileStatus.APRIORI_GOOD])
def test_every_hidden_status_hides(catalog: SQLFileCatalog, status: FileStatus) -> None:
    files = [entry(f"/vo/d/f{i}", 1) for i in range(20)]
    catalog.add_files(files, replicas={f.lfn: ["SE-1"] for f in files}).raise_for_failures()
    catalog.set_file_status({files[3].lfn: status}).raise_for_failures()
    catalog.set_replica_status({files[4].lfn: {"SE-1": status}}).raise_for_failures()
    found = catalog.get_replicas([f.lfn for f in files])
    assert set(found.failed) == {files[3].lfn}
    assert found.ok[files[4].lfn] == frozenset()


def test_concurrent_writers_collide_and_retry(catalog: SQLFileCatalog) -> None:
    """Threads registering overlapping files: every item succeeds once, usage stays exact."""
    import threading

    shared = [entry(f"/vo/c/shared{i}", 1) for i in range(100)]
    errors: list[BaseException] = []

    def register(n: int) -> None:
        try:
            own = [entry(f"/vo/c/t{n}/f{i}", 2) for i in range(50)]
            for batch in (shared[:50], own, shared[50:]):
                catalog.add_files(batch, replicas={e.lfn: ["SE-1"] for e in batch}).raise_for_failures()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert usage_of(catalog, "/vo") == (300, 500, {"SE-1": SEUsage(300, 500)})
    assert_consistent(catalog)
