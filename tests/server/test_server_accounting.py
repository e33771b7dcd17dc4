"""``/api/accounting``: reports of the caller's VO as JSON, PNG and SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from fastapi.testclient import TestClient
from server_job_helpers import Tokens

from dirac_core.accounting import DataOperationRecord, JobRecord
from dirac_core.interware import Interware


def _fill(iw: Interware) -> None:
    now = iw.clock.now()
    iw.accounting.add([
        JobRecord(job_id=1, owner="alice", group="demo_user", vo="demo", site="LCG.A.ch", status="Done",
                  cpu_seconds=3600, end=now - timedelta(hours=5)),
        JobRecord(job_id=2, owner="bob", group="demo_user", vo="demo", site="LCG.B.fr", status="Failed",
                  end=now - timedelta(hours=4)),
        JobRecord(job_id=3, owner="eve", group="x_user", vo="other", site="LCG.Hidden.org", status="Done",
                  end=now - timedelta(hours=3)),
        DataOperationRecord(operation="Replication", vo="demo", source_se="SE-A", target_se="SE-B",
                            bytes=7_200_000, end=now - timedelta(hours=2, minutes=30)),
    ])


def test_reports_are_of_the_callers_vo(iw: Interware, client: TestClient, auth: Tokens) -> None:
    _fill(iw)
    answer = client.get("/api/accounting/report", params={"kind": "jobs-by-site", "since": "1d"},
                        headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["bin"], found["keys"], found["totals"]) == ("hour", ["LCG.A.ch", "LCG.B.fr"],
                                                               {"LCG.A.ch": 1, "LCG.B.fr": 1})
    five_hours_ago = (iw.clock.now() - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    assert len(found["bins"]) == 24
    # one job, in the hour of its end
    series = found["series"]["LCG.A.ch"]
    assert sum(series) == 1
    assert series.index(1) == found["bins"].index(five_hours_ago.isoformat())
    # the query cannot widen the scope: another VO's records stay out whatever the filters say
    scoped = client.get("/api/accounting/report", params={"kind": "final-statuses", "since": "1d",
                                                          "filter": "site=LCG.Hidden.org"},
                        headers=auth("admin", "demo_admin")).json()
    assert scoped["keys"] == []
    throughput = client.get("/api/accounting/report", headers=auth("bob"), params={
        "kind": "transfer-throughput", "since": "6h", "group_by": "target"}).json()
    assert throughput["series"]["SE-B"] == [0, 0, 0, 2000.0, 0, 0]  # 7.2 MB in the hour 3 h ago
    summary = client.get("/api/accounting/summary", params={"type": "job", "group_by": "owner"},
                         headers=auth("alice")).json()
    assert summary["rows"] == [["alice", 1, 1.0, 0.0], ["bob", 1, 0.0, 0.0]]


def test_reports_as_pictures(iw: Interware, client: TestClient, auth: Tokens) -> None:
    _fill(iw)
    png = client.get("/api/accounting/report", params={"kind": "cpu-by-group", "format": "png"},
                     headers=auth("alice"))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = client.get("/api/accounting/report", params={"kind": "final-statuses", "format": "svg"},
                     headers=auth("alice"))
    assert svg.headers["content-type"] == "image/svg+xml"
    texts = ET.fromstring(svg.content).iter("{http://www.w3.org/2000/svg}text")
    labels = {"".join(t.itertext()).strip() for t in texts}
    assert {"Final statuses of jobs", "Done", "Failed"} <= labels and "LCG.Hidden.org" not in labels


def test_kinds_and_mistakes(client: TestClient, auth: Tokens) -> None:
    kinds = client.get("/api/accounting/kinds", headers=auth("alice")).json()
    assert "jobs-by-site" in [k["name"] for k in kinds["kinds"]]
    assert "pair" in kinds["records"]["data"]["keys"] and "cpu" in kinds["records"]["job"]["measures"]
    for params, status, detail in [
        ({"kind": "nope"}, 400, "unknown report kind"),
        ({"kind": "jobs-by-site", "group_by": "colour"}, 400, "unknown key 'colour'"),
        ({"kind": "jobs-by-site", "since": "yesterday"}, 400, "bad time"),
        ({"kind": "jobs-by-site", "filter": "site"}, 400, "filter takes KEY=VALUE"),
        ({"kind": "jobs-by-site", "bin": "hour", "since": "1000d"}, 400, "too many"),
        ({"kind": "jobs-by-site", "format": "gif"}, 422, None),
    ]:
        answer = client.get("/api/accounting/report", params=params, headers=auth("alice"))
        assert answer.status_code == status, (params, answer.text)
        assert detail is None or detail in answer.json()["detail"], answer.text
    assert client.get("/api/accounting/report", params={"kind": "jobs-by-site"}).status_code == 401
