"""Edge values that reached the database or the parsers as 500s (found by fuzzing the API): each is
now a 4xx, on every backend. Numbers past 64 bits, dates past year 9999, page numbers whose offset
overflows, values of the wrong type for a column, strings longer than their column, bodies nested
thousands deep.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sec_helpers import bearer

from dirac_core.interware import Interware

BIG = 10**30
LONG = "x" * 100_000


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _search(parameter: str, operator: str, value: Any) -> dict[str, Any]:
    return {"search": [{"parameter": parameter, "operator": operator, "value": value}]}


#: (who, method, path, keyword arguments of the request)
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("admin", "POST", "/api/jobs/search", {"params": {"page": 10**19}, "json": {}}),
    ("admin", "POST", "/api/jobs/search", {"params": {"page": 2**62, "per_page": 10_000}, "json": {}}),
    ("admin", "POST", "/api/jobs/search", {"json": _search("LastUpdateTime", "gt", "9999-12-31T23:59:59")}),
    ("admin", "POST", "/api/jobs/search", {"json": _search("JobID", "eq", BIG)}),
    ("admin", "POST", "/api/jobs/search", {"json": _search("Owner", "eq", LONG)}),
    ("admin", "POST", "/api/jobs/search", {"json": _search("JobName", "in", _nested(800))}),
    ("admin", "POST", "/api/jobs/summary", {"json": {"grouping": ["Status"], **_search("JobID", "lt", BIG)}}),
    ("admin", "POST", "/api/pilots/search", {"params": {"page": 10**19}, "json": {}}),
    ("admin", "POST", "/api/pilots/search", {"json": {"equal": {"Status": [BIG]}}}),
    ("admin", "POST", "/api/pilots/search", {"json": {"equal": {"PilotStamp": [BIG, None, [1]]}}}),
    ("admin", "POST", "/api/pilots/search", {"json": {"equal": {"LastUpdateTime": ["yesterday", BIG]}}}),
    ("admin", "GET", "/api/requests", {"params": {"page": 10**19}}),
    ("admin", "GET", f"/api/requests/{10**19}", {}),
    ("admin", "POST", "/api/requests/cancel", {"json": [BIG]}),
    ("admin", "GET", "/api/transformations", {"params": {"page": 10**19}}),
    ("catalog", "POST", "/api/catalog/files", {"json": {"files": [{"lfn": "/demo/f", "size": BIG}]}}),
    ("catalog", "POST", "/api/catalog/files", {"json": {"files": [{"lfn": "/demo/g", "size": 2**63}]}}),
    ("catalog", "POST", "/api/catalog/files", {"json": {"files": [{"lfn": "/demo/h", "size": 1,
                                                                    "checksum": LONG, "guid": LONG}]}}),
    ("catalog", "POST", "/api/catalog/find", {"json": {"query": {"Size": BIG}, "path": "/"}}),
    ("catalog", "POST", "/api/catalog/find", {"json": {"query": {"Size": {"<": 1e300}}, "path": "/"}}),
    ("catalog", "POST", "/api/catalog/find", {"json": {"query": {"Size": _nested(800)}, "path": "/"}}),
    ("catalog", "POST", "/api/catalog/find", {"json": {"query": {"Name": LONG}, "path": "/"}}),
    ("catalog", "POST", "/api/catalog/find", {"json": {"query": {"CreationDate": {"$datetime": "never"}},
                                                       "path": "/"}}),
    ("catalog", "POST", "/api/catalog/metadata", {"json": {"values": {"/demo": {"taken": {"$date": "x"}}}}}),
    ("catalog", "POST", "/api/catalog/directories", {"json": {"paths": ["/demo/" + "d" * 129]}}),
    ("catalog", "POST", "/api/catalog/metadata/fields", {"json": {"name": LONG, "type": "int",
                                                                   "for_files": True}}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "x"; JobName = "' + LONG + '"]']}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "x"; JobGroup = "' + "g" * 300 + '"]']}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "x"; Site = "' + "s" * 300 + '"]']}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "' + LONG + '"]']}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "x"; A = ' + "{" * 5000 + "]"]}),
    ("alice", "POST", "/api/jobs/jdl", {"json": ['[Executable = "x"; CPUTime = ' + str(BIG) + "]"]}),
    ("alice", "POST", "/api/jobs/jdl", {"content": b"[" * 50_000 + b"]" * 50_000,
                                        "headers": {"content-type": "application/json"}}),
    ("alice", "POST", "/api/requests", {"json": [{"name": LONG, "operations": []}]}),
    ("pilot", "POST", "/api/pilots/", {"json": {"pilot_stamps": ["s" * 64], "vo": "demo",
                                                "pilot_references": {"s" * 64: "r" * 255}}}),
    ("pilot", "POST", "/api/jobs/match", {"json": {"Site": "DIRAC.A.ch", "CPUTime": BIG}}),
    ("pilot", "POST", "/api/jobs/match", {"json": {"Site": LONG, "CPUTime": 1}}),
]


def _headers(iw: Interware, who: str) -> dict[str, str]:
    if who == "pilot":
        return bearer(iw.auth.tokens.issue_pilot("demo", "st-1"))
    group = {"admin": "demo_admin", "catalog": "demo_catalog"}.get(who)
    return bearer(iw.auth.issue("admin" if group else who, vo="demo", group=group)[1].access_token)


def test_edge_values_are_4xx_not_5xx(client: TestClient, iw: Interware) -> None:
    client.post("/api/catalog/directories", json={"paths": ["/demo"]}, headers=_headers(iw, "catalog"))
    answers = {}
    for index, (who, method, path, given) in enumerate(CASES):
        options = dict(given)
        headers = {**_headers(iw, who), **options.pop("headers", {})}
        answer = client.request(method, path, headers=headers, **options)
        answers[index] = answer.status_code
        assert answer.status_code < 500, (index, method, path, answer.text[:300])
    assert any(code == 422 for code in answers.values()) and any(code == 400 for code in answers.values())


@pytest.mark.parametrize("size", [2**63 - 1, 0])
def test_sizes_at_the_limits_are_stored(client: TestClient, iw: Interware, size: int) -> None:
    admin = _headers(iw, "catalog")
    answer = client.post("/api/catalog/files", json={"files": [{"lfn": f"/demo/s{size}", "size": size,
                                                                 "checksum": "00000001"}]}, headers=admin)
    assert answer.status_code == 200 and not answer.json()["failed"], answer.text
    found = client.post("/api/catalog/files/get", json={"lfns": [f"/demo/s{size}"]}, headers=admin).json()
    assert found["ok"][f"/demo/s{size}"]["size"] == size


def test_a_nul_character_in_the_url_is_refused_before_any_database() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dirac_server.limits import BodySizeLimit

    app = FastAPI()

    @app.get("/echo")
    def echo(type: str = "") -> dict[str, str]:
        return {"type": type}

    app.add_middleware(BodySizeLimit, limit=1000)
    with TestClient(app) as client:
        assert client.get("/echo", params={"type": "ok"}).json() == {"type": "ok"}
        refused = client.get("/echo", params={"type": "a\x00b"})
        assert refused.status_code == 400 and "NUL" in refused.json()["detail"]
