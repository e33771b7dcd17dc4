"""Files, replicas and directories of the SQL catalog: DIRAC's per-item rules, on every backend."""

from __future__ import annotations

from dirac_core.errors import CatalogError, NotFound
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins.catalog import FileEntry
from dirac_plugins_catalog.sql import CatalogOptions, SQLFileCatalog


def entry(lfn: str, size: int = 10, guid: str | None = None) -> FileEntry:
    return FileEntry(lfn=lfn, size=size, checksum=f"{size:08x}", guid=guid)


def test_invalid_lfns_fail_their_item_only(catalog: SQLFileCatalog) -> None:
    res = catalog.add_files([entry("/vo/a"), entry("relative"), entry("/vo/../etc"), entry("/vo/x\x00y"),
                             entry("/vo/" + "n" * 129)])
    assert set(res.ok) == {"/vo/a"}
    assert all(isinstance(res.failed[k], InvalidLFN) for k in ("relative", "/vo/../etc", "/vo/x\x00y"))
    assert isinstance(res.failed["/vo/" + "n" * 129], InvalidLFN)
    for call in (catalog.get_files, catalog.get_replicas, catalog.remove_files, catalog.exists,
                 catalog.list_directory, catalog.remove_directories, catalog.create_directories):
        result = call(["/vo/a/../b", "/vo/a"])
        assert isinstance(result.failed["/vo/a/../b"], InvalidLFN), call.__name__
        assert "/vo/a" in result.ok or "/vo/a" in result.failed, call.__name__


def test_results_are_keyed_as_given(catalog: SQLFileCatalog) -> None:
    res = catalog.add_files([entry("LFN:/vo//a/"), entry("/grid/vo/b")])
    assert set(res.ok) == {"LFN:/vo//a/", "/grid/vo/b"}
    assert catalog.get_files(["/vo/a"]).ok["/vo/a"] == entry("/vo/a")
    assert set(catalog.exists(["lfn:/vo/b", "/", "lfn:/"]).ok.items()) == {
        ("lfn:/vo/b", "file"), ("/", "directory"), ("lfn:/", "directory")}
    assert catalog.list_directory(["/"]).ok["/"].subdirectories == ("/vo",)


def test_bad_entries_fail_their_item(catalog: SQLFileCatalog) -> None:
    res = catalog.add_files([FileEntry(lfn="/vo/neg", size=-1), FileEntry(lfn="/vo/ok", size=1),
                             FileEntry(lfn="/vo/big", size=1, checksum="x" * 65),
                             FileEntry(lfn="/vo/ses", size=1)],
                            replicas={"/vo/ses": [""]})
    assert set(res.ok) == {"/vo/ok"}
    assert all(isinstance(e, CatalogError) for e in res.failed.values())


def test_the_same_lfn_twice_in_one_call(catalog: SQLFileCatalog) -> None:
    res = catalog.add_files([entry("/vo/a"), entry("/vo//a"), entry("/vo/b", 1), entry("lfn:/vo/b", 2)])
    assert set(res.ok) == {"/vo/a", "/vo//a", "/vo/b"}
    assert isinstance(res.failed["lfn:/vo/b"], CatalogError)
    assert catalog.get_files(["/vo/b"]).ok["/vo/b"].size == 1


def test_files_and_directories_do_not_mix(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/f")]).raise_for_failures()
    catalog.create_directories(["/vo/d"]).raise_for_failures()
    res = catalog.add_files([entry("/vo/d"), entry("/vo/f/g"), entry("/vo/ok")])
    assert set(res.ok) == {"/vo/ok"}
    assert all(isinstance(res.failed[k], CatalogError) for k in ("/vo/d", "/vo/f/g"))
    assert isinstance(catalog.create_directories(["/vo/f/sub"]).failed["/vo/f/sub"], CatalogError)
    assert isinstance(catalog.remove_directories(["/vo/f"]).failed["/vo/f"], CatalogError)
    assert isinstance(catalog.list_directory(["/vo/f"]).failed["/vo/f"], NotFound)


def test_master_replica_and_alternative_replicas(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/a")], replicas={"/vo/a": ["SE-1", "SE-2"]}).raise_for_failures()
    assert catalog.get_replicas(["/vo/a"]).ok["/vo/a"] == {"SE-1", "SE-2"}
    # identical, with storage elements it has: fine; with one it has not: "alternative replicas"
    assert catalog.add_files([entry("/vo/a")], replicas={"/vo/a": ["SE-2"]}).all_ok
    refused = catalog.add_files([entry("/vo/a")], replicas={"/vo/a": ["SE-3"]})
    assert "alternative replicas" in str(refused.failed["/vo/a"])
    assert catalog.add_files([entry("/vo/a")]).all_ok
    changed = catalog.add_files([entry("/vo/a", 11)])
    assert "alternative metadata" in str(changed.failed["/vo/a"])


def test_first_replica_is_the_master(catalog: SQLFileCatalog, database: object) -> None:
    from sqlalchemy import select

    from dirac_core.db.tables.catalog import replicas, storage_elements

    catalog.add_files([entry("/vo/a")]).raise_for_failures()
    catalog.add_replicas({"/vo/a": ["SE-1", "SE-2"]}).raise_for_failures()
    catalog.add_replicas({"/vo/a": ["SE-1"]}).raise_for_failures()
    with catalog.database.begin(read_only=True) as conn:
        kinds = dict(conn.execute(select(storage_elements.c.name, replicas.c.kind)
                                  .join_from(replicas, storage_elements,
                                             storage_elements.c.se_id == replicas.c.se_id)).all())
    assert kinds == {"SE-1": "Master", "SE-2": "Replica"}


def test_last_replica_may_go_and_the_file_stays(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/a")], replicas={"/vo/a": ["SE-1"]}).raise_for_failures()
    assert catalog.remove_replicas({"/vo/a": ["SE-1"], "/vo/none": ["SE-1"]}).all_ok
    assert catalog.get_replicas(["/vo/a"]).ok["/vo/a"] == frozenset()
    assert catalog.exists(["/vo/a"]).ok["/vo/a"] == "file"


def test_bulk_partial_results(catalog: SQLFileCatalog) -> None:
    files = [entry(f"/vo/run{d}/f{i}") for d in range(3) for i in range(50)]
    catalog.add_files(files, replicas={f.lfn: ["SE-1"] for f in files}).raise_for_failures()
    asked = [f.lfn for f in files[::7]] + ["/vo/run0/none", "/vo/nodir/none", "bad"]
    res = catalog.get_replicas(asked)
    assert set(res.ok) == {f.lfn for f in files[::7]}
    assert {type(e) for k, e in res.failed.items() if k != "bad"} == {NotFound}
    assert isinstance(res.failed["bad"], InvalidLFN)
    more = catalog.add_replicas({files[0].lfn: ["SE-2"], "/vo/run0/none": ["SE-2"], "bad": ["SE-2"]})
    assert set(more.ok) == {files[0].lfn}
    assert isinstance(more.failed["/vo/run0/none"], NotFound)
    assert catalog.get_replicas([files[0].lfn]).ok[files[0].lfn] == {"SE-1", "SE-2"}


def test_large_lookups_read_whole_directories_or_names(catalog: SQLFileCatalog) -> None:
    files = [entry(f"/vo/big/f{i:04d}") for i in range(400)] + [entry("/vo/top")]
    catalog.add_files(files, replicas={f.lfn: ["SE-1"] for f in files}).raise_for_failures()
    # most of the directory (read whole), a few of it (by names), and a file under the root
    for asked in ([f.lfn for f in files[:300]], [f.lfn for f in files[:5]], ["/vo/top", "/vo/big/f0001"]):
        res = catalog.get_replicas(asked)
        assert res.all_ok and set(res.ok) == set(asked)
    catalog.add_files([entry("/rootfile")], replicas={"/rootfile": ["SE-1"]}).raise_for_failures()
    assert catalog.get_replicas(["/rootfile"]).ok == {"/rootfile": {"SE-1"}}


def test_lfn_for_guid_and_unique_guids(catalog: SQLFileCatalog, database: object) -> None:
    catalog.add_files([entry("/vo/a", guid="G1"), entry("/vo/b", guid="G1")]).raise_for_failures()
    found = catalog.lfn_for_guid(["G1", "G9"])
    assert found.ok == {"G1": "/vo/a"}
    assert isinstance(found.failed["G9"], NotFound)
    unique = SQLFileCatalog(catalog.database, options=CatalogOptions(unique_guid=True))
    res = unique.add_files([entry("/vo/c", guid="G1"), entry("/vo/d", guid="G2"), entry("/vo/e", guid="G2"),
                            entry("/vo/a", guid="G1")])
    assert set(res.ok) == {"/vo/d", "/vo/a"}  # the re-registration of /vo/a is identical
    assert "GUID" in str(res.failed["/vo/c"]) and "GUID" in str(res.failed["/vo/e"])


def test_remove_files_removes_replicas_and_directories_need_to_be_empty(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/d/a"), entry("/vo/d/sub/b")], replicas={"/vo/d/a": ["SE-1"]})
    refused = catalog.remove_directories(["/vo/d", "/vo/d/sub"])
    assert set(refused.failed) == {"/vo/d", "/vo/d/sub"}
    assert catalog.remove_files(["/vo/d/a", "/vo/d/sub/b", "/vo/d/none"]).all_ok
    assert catalog.remove_directories(["/vo/d/sub"]).all_ok
    assert catalog.remove_directories(["/vo/d", "/", "/vo/never"]).all_ok
    assert catalog.exists(["/vo/d", "/vo"]).ok == {"/vo/d": None, "/vo": "directory"}
    catalog.add_files([entry("/vo/d/a")]).raise_for_failures()
    assert catalog.get_replicas(["/vo/d/a"]).ok["/vo/d/a"] == frozenset()  # no stale replica


def test_listing_is_sorted_full_paths(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/d/b"), entry("/vo/d/a"), entry("/vo/d/B"), entry("/vo/d/z/x")])
    listing = catalog.list_directory(["/vo/d"]).ok["/vo/d"]
    assert listing.files == ("/vo/d/B", "/vo/d/a", "/vo/d/b")
    assert listing.subdirectories == ("/vo/d/z",)
    assert catalog.list_directory(["/"]).ok["/"].subdirectories == ("/vo",)


def test_an_empty_catalog_has_a_root(catalog: SQLFileCatalog) -> None:
    assert catalog.exists(["/"]).ok == {"/": "directory"}
    assert catalog.list_directory(["/"]).ok["/"].files == ()
    usage = catalog.directory_usage(["/"]).ok["/"]
    assert (usage.files, usage.size, dict(usage.replicas)) == (0, 0, {})


def test_owner_group_and_mode_changes(catalog: SQLFileCatalog) -> None:
    catalog.add_files([entry("/vo/d/a")]).raise_for_failures()
    assert catalog.change_owner({"/vo/d": "alice", "/vo/d/a": "bob", "/vo/none": "x"}).failed.keys() == {
        "/vo/none"}
    assert catalog.change_group({"/vo/d": "users"}).all_ok
    res = catalog.change_mode({"/vo/d": 0o700, "/vo/d/a": 0o1777})
    assert set(res.ok) == {"/vo/d"} and isinstance(res.failed["/vo/d/a"], CatalogError)
