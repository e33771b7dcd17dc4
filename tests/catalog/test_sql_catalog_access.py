"""Access control of SQL catalog views: (identity, action, path) -> allowed, as a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from catalog_helpers import ADMIN, person

from dirac_core.errors import BulkResult, PermissionDenied
from dirac_core.model.identity import Identity
from dirac_core.plugins.catalog import FileEntry
from dirac_plugins_catalog.sql import POLICY, Action, SQLFileCatalog

ALICE = person("alice", "vo_user")
BOB = person("bob", "vo_user")  # alice's group
CAROL = person("carol", "vo_prod")  # another group

HOME = "/vo/user/a/alice"
FILE = f"{HOME}/f"  # alice's, mode 0o755 (group may not write)
OPEN = f"{HOME}/open"  # alice's, mode 0o775 (group may write)
PRIVATE = f"{HOME}/private"  # alice's directory, mode 0o700, holding PRIVATE/p (0o700)


def _tree(catalog: SQLFileCatalog) -> None:
    """/vo is the VO's (group vo_user may create in it); alice's home and files."""
    catalog.create_directories([HOME, PRIVATE]).raise_for_failures()
    catalog.add_files([FileEntry(lfn=p, size=1) for p in (FILE, OPEN, f"{PRIVATE}/p")],
                      replicas={FILE: ["SE-1"], f"{PRIVATE}/p": ["SE-1"]}).raise_for_failures()
    owners = dict.fromkeys([HOME, FILE, OPEN, PRIVATE, f"{PRIVATE}/p"], "alice")
    catalog.change_owner(owners).raise_for_failures()
    catalog.change_group(dict.fromkeys(["/vo", "/vo/user", "/vo/user/a", *owners], "vo_user"))
    catalog.change_mode({HOME: 0o755, FILE: 0o755, OPEN: 0o775, PRIVATE: 0o700, f"{PRIVATE}/p": 0o700,
                         "/vo/user/a": 0o775}).raise_for_failures()


Call = Callable[[SQLFileCatalog], BulkResult[str, Any]]

#: what a call does to which path (the path is the item whose outcome is checked)
CALLS: dict[str, tuple[Call, str]] = {
    "add file in home": (lambda c: c.add_files([FileEntry(lfn=f"{HOME}/new", size=1)]), f"{HOME}/new"),
    "add file deep in home": (lambda c: c.add_files([FileEntry(lfn=f"{HOME}/x/y/z", size=1)]),
                              f"{HOME}/x/y/z"),
    "mkdir in home": (lambda c: c.create_directories([f"{HOME}/sub"]), f"{HOME}/sub"),
    "mkdir in /vo/user/a": (lambda c: c.create_directories(["/vo/user/a/bob"]), "/vo/user/a/bob"),
    "remove file": (lambda c: c.remove_files([FILE]), FILE),
    "remove missing file": (lambda c: c.remove_files([f"{HOME}/none"]), f"{HOME}/none"),
    "remove directory": (lambda c: c.remove_directories([f"{HOME}/empty"]), f"{HOME}/empty"),
    "add replica 0o755": (lambda c: c.add_replicas({FILE: ["SE-2"]}), FILE),
    "add replica 0o775": (lambda c: c.add_replicas({OPEN: ["SE-2"]}), OPEN),
    "remove replica": (lambda c: c.remove_replicas({FILE: ["SE-1"]}), FILE),
    "set file status": (lambda c: c.set_file_status({FILE: "Trash"}), FILE),
    "set replica status": (lambda c: c.set_replica_status({FILE: {"SE-1": "Trash"}}), FILE),
    "change mode of home": (lambda c: c.change_mode({HOME: 0o775}), HOME),
    "change owner": (lambda c: c.change_owner({FILE: "bob"}), FILE),
    "change group": (lambda c: c.change_group({FILE: "vo_prod"}), FILE),
    "set metadata": (lambda c: c.set_metadata({HOME: {"year": 2024}}), HOME),
    "list private": (lambda c: c.list_directory([PRIVATE]), PRIVATE),
    "replicas of private file": (lambda c: c.get_replicas([f"{PRIVATE}/p"]), f"{PRIVATE}/p"),
    "entry of private file": (lambda c: c.get_files([f"{PRIVATE}/p"]), f"{PRIVATE}/p"),
    "exists in private": (lambda c: c.exists([f"{PRIVATE}/p"]), f"{PRIVATE}/p"),
    "list home": (lambda c: c.list_directory([HOME]), HOME),
}

#: call -> the identities allowed (ADMIN and the trusted catalog may always), global read off
ALLOWED: dict[str, set[Identity]] = {
    "add file in home": {ALICE},
    "add file deep in home": {ALICE},
    "mkdir in home": {ALICE},
    "mkdir in /vo/user/a": {ALICE, BOB},  # group-writable
    "remove file": {ALICE},
    "remove missing file": {ALICE, BOB, CAROL},  # a missing target is always allowed
    "remove directory": {ALICE},
    "add replica 0o755": {ALICE},
    "add replica 0o775": {ALICE, BOB},
    "remove replica": {ALICE},
    "set file status": {ALICE},
    "set replica status": {ALICE},
    "change mode of home": {ALICE},
    "change owner": set(),
    "change group": set(),
    "set metadata": {ALICE},
    "list private": {ALICE},
    "replicas of private file": {ALICE},
    "entry of private file": {ALICE},
    "exists in private": {ALICE},
    "list home": {ALICE, BOB, CAROL},  # 0o755
}

CASES = [(who, name) for name in CALLS for who in (ALICE, BOB, CAROL, ADMIN, None)]


@pytest.mark.parametrize(("who", "name"), CASES,
                         ids=[f"{w.user if w else 'trusted'}-{n}" for w, n in CASES])
def test_policy_table(strict_catalog: SQLFileCatalog, who: Identity | None, name: str) -> None:
    _tree(strict_catalog)
    strict_catalog.create_directories([f"{HOME}/empty"]).raise_for_failures()
    strict_catalog.change_owner({f"{HOME}/empty": "alice"}).raise_for_failures()
    strict_catalog.add_metadata_field("year", "int", for_files=False)
    call, path = CALLS[name]
    result = call(strict_catalog.acting_as(who))
    allowed = who is None or who == ADMIN or who in ALLOWED[name]
    if allowed:
        assert not isinstance(result.failed.get(path), PermissionDenied), result.failed.get(path)
        assert path in result.ok
    else:
        assert isinstance(result.failed[path], PermissionDenied)


def test_global_read_grants_every_read(catalog: SQLFileCatalog) -> None:
    _tree(catalog)
    view = catalog.acting_as(CAROL)
    assert view.list_directory([PRIVATE]).all_ok
    assert view.get_replicas([f"{PRIVATE}/p"]).ok == {f"{PRIVATE}/p": {"SE-1"}}
    assert isinstance(view.remove_files([FILE]).failed[FILE], PermissionDenied)


def test_a_refused_item_does_not_stop_the_others(catalog: SQLFileCatalog) -> None:
    _tree(catalog)
    res = catalog.acting_as(BOB).add_files([FileEntry(lfn=f"{HOME}/b", size=1),
                                            FileEntry(lfn="/vo/user/a/bob/b", size=1)])
    assert isinstance(res.failed[f"{HOME}/b"], PermissionDenied)
    assert set(res.ok) == {"/vo/user/a/bob/b"}
    assert catalog.list_directory(["/vo/user/a/bob"]).ok["/vo/user/a/bob"].files == ("/vo/user/a/bob/b",)


def test_new_entries_belong_to_the_identity(catalog: SQLFileCatalog) -> None:
    from dirac_plugins_catalog.sql.access import file_owners

    _tree(catalog)
    catalog.acting_as(BOB).add_files([FileEntry(lfn="/vo/user/a/b2/f", size=1)]).raise_for_failures()
    with catalog.database.begin(read_only=True) as conn:
        assert file_owners(conn, ["/vo/user/a/b2/f"]) == {"/vo/user/a/b2/f": ("bob", "vo_user", 0o775)}
    with pytest.raises(PermissionDenied):
        catalog.acting_as(BOB).add_metadata_field("x", "int", for_files=True)
    with pytest.raises(PermissionDenied):
        catalog.acting_as(BOB).rebuild_directory_usage()


def test_the_first_writer_bootstraps_an_empty_catalog(catalog: SQLFileCatalog) -> None:
    view = catalog.acting_as(CAROL)
    assert view.create_directories(["/vo2/prod"]).all_ok  # nothing exists: allowed
    assert isinstance(view.acting_as(BOB).create_directories(["/vo3"]).failed["/vo3"], PermissionDenied)


def test_every_action_has_a_rule() -> None:
    assert set(POLICY) == set(Action)
