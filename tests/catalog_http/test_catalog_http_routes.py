"""``/api/catalog`` through a running server: acting as the caller, per-item failures, limits, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from catalog_http_helpers import LiveCatalog, Recording

from dirac_core.client import RetryPolicy
from dirac_core.dms.metaquery import QueryError
from dirac_core.errors import AlreadyExists, CatalogError, NotAuthenticated, NotFound, PermissionDenied
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins.catalog import FileEntry

HOME = "/demo/user/alice"
JDL = '[Executable = "/bin/echo"; Site = "DIRAC.A.ch";]'
F = f"{HOME}/f"


def _post(live: LiveCatalog, path: str, body: Any, user: str | None = "alice") -> httpx.Response:
    headers = {"Authorization": f"Bearer {live.token(user)}"} if user else {}
    return httpx.post(f"{live.url}/api/catalog{path}", json=body, headers=headers, timeout=30)


def test_another_users_directory_is_refused_item_by_item(live: LiveCatalog) -> None:
    alice = live.remote("alice").catalog
    alice.add_files([FileEntry(lfn=F, size=1)]).raise_for_failures()
    alice.add_replicas({F: ["SE-A"]}).raise_for_failures()
    bob = live.remote("bob").catalog

    added = bob.add_files([FileEntry(lfn=f"{HOME}/g", size=1)])
    assert isinstance(added.failed[f"{HOME}/g"], PermissionDenied) and not added.ok
    assert added.failed[f"{HOME}/g"].fields["user"] == "bob"
    removed = bob.remove_files([F, f"{HOME}/never"])
    assert isinstance(removed.failed[F], PermissionDenied)
    assert set(removed.ok) == {f"{HOME}/never"}  # a missing file: nothing to refuse
    assert isinstance(bob.remove_replicas({F: ["SE-A"]}).failed[F], PermissionDenied)
    assert bob.get_replicas([F]).ok == {F: frozenset({"SE-A"})}  # reading is open to all

    # nothing was done for bob; an administrator may
    assert live.iw.catalog is not None
    assert live.iw.catalog.get_replicas([F]).ok == {F: frozenset({"SE-A"})}
    assert not live.iw.catalog.exists([f"{HOME}/g"]).ok[f"{HOME}/g"]
    assert live.remote("admin", "demo_catalog").catalog.remove_files([F]).all_ok
    assert live.iw.catalog.exists([F]).ok[F] is None


def test_entries_belong_to_the_caller(live: LiveCatalog) -> None:
    live.remote("bob").catalog.add_files([FileEntry(lfn="/demo/user/bob/x", size=2)]).raise_for_failures()
    assert live.iw.catalog is not None
    assert live.iw.catalog.find_files({"Owner": "bob"}) == ["/demo/user/bob/x"]


def test_a_pilot_acts_for_its_job_as_the_jobs_owner(live: LiveCatalog) -> None:
    mine, other = (live.remote("alice").wms.submit(JDL)[0].job_id for _ in range(2))
    pilot = live.client(live.iw.auth.tokens.issue_pilot("demo", "stamp-1"))
    matched = pilot.wms.match({"Site": "DIRAC.A.ch", "CPUTime": 100_000})
    assert matched is not None and matched.job_id == mine
    out = f"{HOME}/job-output"
    assert pilot.catalog.for_job(mine).add_files([FileEntry(lfn=out, size=1)]).all_ok
    assert live.iw.catalog is not None
    assert live.iw.catalog.find_files({"Owner": "alice"}) == [out]
    # as itself, the pilot may not write in alice's home; it may not act for a job it does not hold
    alone = pilot.catalog.add_files([FileEntry(lfn=f"{HOME}/stray", size=1)])
    assert isinstance(alone.failed[f"{HOME}/stray"], PermissionDenied)
    with pytest.raises(PermissionDenied, match="not a job of pilot"):
        pilot.catalog.for_job(other).exists([out])
    with pytest.raises(PermissionDenied, match="only a pilot"):
        live.remote("alice").catalog.for_job(mine).exists([out])


def test_a_server_without_catalog_answers_503(bare_live: LiveCatalog) -> None:
    answer = _post(bare_live, "/files/get", {"lfns": [F]})
    assert answer.status_code == 503, answer.text
    assert "no file catalog" in answer.json()["detail"]
    catalog = bare_live.remote("alice", retry=RetryPolicy(attempts=1)).catalog
    with pytest.raises(CatalogError, match="no file catalog"):
        catalog.get_files([F])
    with pytest.raises(CatalogError, match="no file catalog"):
        catalog.metadata_fields()
    assert _post(bare_live, "/files/get", {"lfns": [F]}, user=None).status_code == 401


def test_invalid_lfns_fail_item_by_item(live: LiveCatalog) -> None:
    bad = ["relative/x", "/demo/a/../b", "/demo/bell\x07", "/demo/" + "x" * 200]
    catalog = live.remote("alice").catalog
    result = catalog.add_files([FileEntry(lfn=lfn, size=1) for lfn in [*bad, F]])
    assert set(result.ok) == {F}
    assert set(result.failed) == set(bad)
    assert all(type(e) is InvalidLFN for e in result.failed.values()), result.failed

    raw = _post(live, "/replicas/get", {"lfns": [*bad, F]})
    assert raw.status_code == 200, raw.text
    assert {k: v["type"] for k, v in raw.json()["failed"].items()} == dict.fromkeys(bad, "InvalidLFN")

    # what cannot even be sent fails as the catalog fails it, keyed by its repr
    mixed = catalog.exists([42, F])  # type: ignore[list-item]
    assert mixed.ok == {F: "file"} and isinstance(mixed.failed["42"], InvalidLFN)
    unsendable = [FileEntry(lfn="/demo/y", size=object()), FileEntry(lfn="/demo/w", size=float("nan")),
                  "/demo/z"]
    typed = catalog.add_files(unsendable)  # type: ignore[arg-type]
    assert set(typed.failed) == {"/demo/y", "/demo/w", "/demo/z"} and not typed.ok
    assert all(isinstance(e, CatalogError) for e in typed.failed.values())
    odd = catalog.set_metadata({HOME: {"year": object()}, F: {"year": float("nan")}, "/demo": {}})
    assert set(odd.failed) == {HOME, F} and isinstance(odd.failed[HOME], CatalogError)
    with pytest.raises(QueryError):
        catalog.find_files({"year": object()})


def test_too_many_items_are_refused_and_the_client_splits(small_live: LiveCatalog) -> None:
    six = [f"{HOME}/{i}" for i in range(6)]
    answer = _post(small_live, "/files/get", {"lfns": six})
    assert answer.status_code == 413, answer.text
    assert "at most 5 items" in answer.json()["detail"]
    assert answer.json()["error"]["fields"]["max_items"] == 5
    assert _post(small_live, "/metadata", {"values": {p: {} for p in six}}).status_code == 413

    sent = Recording()
    catalog = small_live.remote("alice", transport=sent).catalog
    files = [FileEntry(lfn=f"{HOME}/{i:02d}", size=i) for i in range(12)]
    assert set(catalog.add_files(files).ok) == {f.lfn for f in files}
    assert sent.paths.count("/api/catalog/files") == 4  # 12 refused, then 5 + 5 + 2
    assert catalog.batch_size == 5
    got = catalog.get_files([f.lfn for f in files])
    assert got.ok == {f.lfn: f for f in files}
    assert sent.paths.count("/api/catalog/files/get") == 3


def test_a_body_over_the_byte_limit_is_sent_in_halves(tight_live: LiveCatalog) -> None:
    catalog = tight_live.remote("alice").catalog
    files = [FileEntry(lfn=f"{HOME}/{'n' * 60}{i:03d}", size=i) for i in range(40)]  # ~4 KiB of JSON
    assert set(catalog.add_files(files).ok) == {f.lfn for f in files}
    assert catalog.batch_size <= 20
    assert tight_live.iw.catalog is not None
    assert len(tight_live.iw.catalog.list_directory([HOME]).ok[HOME].files) == 40


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/files", {"files": [{"lfn": 5, "size": 1}]}, 422),
    ("/files", {"files": [{"lfn": F, "size": 1, "owner": "x"}]}, 422),
    ("/files/get", {"lfns": "not a list"}, 422),
    ("/metadata/remove", {"keys": {HOME: 5}}, 422),
    ("/find", {"query": {"Size": {"about": 1}}}, 400),
    ("/datasets/freeze", {"frozen": True}, 422),
])
def test_malformed_requests_are_refused_whole(live: LiveCatalog, path: str, body: Any, status: int) -> None:
    answer = _post(live, path, body)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(("path", "body", "item"), [
    ("/files", {"files": [{"lfn": F, "size": -1}]}, F),
    ("/files", {"files": [{"lfn": F, "size": {"a": 1}, "checksum": [1]}]}, F),
    ("/replicas", {"replicas": {F: 5}}, F),
    ("/metadata", {"values": {HOME: "not a mapping"}}, HOME),
])
def test_bad_values_fail_their_item(live: LiveCatalog, path: str, body: Any, item: str) -> None:
    live.remote("alice").catalog.add_files([FileEntry(lfn=F, size=1)]).raise_for_failures()
    answer = _post(live, path, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["failed"][item]["type"] == "CatalogError"


def test_unauthenticated_calls_are_401(live: LiveCatalog) -> None:
    answer = _post(live, "/exists", {"paths": ["/demo"]}, user=None)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    forged = httpx.get(f"{live.url}/api/catalog/metadata/fields", headers={"Authorization": "Bearer x.y.z"})
    assert forged.status_code == 401
    with pytest.raises(NotAuthenticated):
        live.client(None).catalog.exists(["/demo"])


def test_whole_call_errors_keep_their_type_and_status(live: LiveCatalog) -> None:
    admin = live.remote("admin", "demo_catalog").catalog
    admin.add_metadata_field("year", "int", for_files=False)
    alice = live.remote("alice").catalog
    with pytest.raises(PermissionDenied):
        alice.add_metadata_field("tag", "string", for_files=True)
    with pytest.raises(QueryError) as bad_query:
        alice.find_files({"azimuth": 1})
    assert bad_query.value.fields["field"] == "azimuth" and "year" in bad_query.value.fields["known"]
    alice.add_dataset("/demo/datasets/y", {"year": 2018})
    with pytest.raises(AlreadyExists):
        alice.add_dataset("/demo/datasets/y", {"year": 2019})
    with pytest.raises(NotFound):
        alice.dataset("/demo/datasets/none")
    with pytest.raises(InvalidLFN):
        alice.add_dataset("relative", {"year": 2018})
    alice.remove_dataset("/demo/datasets/none")  # removed already: fine

    token = {"Authorization": f"Bearer {live.token('alice')}"}
    base = f"{live.url}/api/catalog"
    assert httpx.post(f"{base}/datasets", headers=token, json={"name": "/demo/datasets/y", "query": {}}
                      ).status_code == 409
    assert httpx.get(f"{base}/datasets", headers=token, params={"name": "/demo/none"}).status_code == 404
    assert httpx.post(f"{base}/metadata/fields", headers=token,
                      json={"name": "tag", "type": "string", "for_files": True}).status_code == 403


def test_times_survive_the_trip(live: LiveCatalog) -> None:
    live.remote("admin", "demo_catalog").catalog.add_metadata_field("taken", "date", for_files=False)
    alice = live.remote("alice").catalog
    alice.add_files([FileEntry(lfn=F, size=1)]).raise_for_failures()
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    alice.set_metadata({HOME: {"taken": when}}).raise_for_failures()
    assert alice.get_metadata([F]).ok[F] == {"taken": when}
    query = {"taken": {"<": datetime(2024, 6, 1, tzinfo=UTC)}}
    assert alice.find_files(query) == [F]
    info = alice.add_dataset("/demo/datasets/may", query)
    assert info.files == 1
    assert live.iw.catalog is not None
    assert live.iw.catalog.dataset("/demo/datasets/may") == info
