"""run_local_pilot: a registered pilot in this process, as the registry's pilot, running real payloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from dirac_core.errors import NotFound
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model.pilot import PilotStatus
from dirac_core.pilot.local import pilot_identity, run_local_pilot

SITE = "DIRAC.Embedded.local"


def test_a_local_pilot_runs_the_jobs_of_its_site_and_is_recorded(tmp_path: Path) -> None:
    with Interware.embedded(tmp_path / "site") as iw:
        alice = iw.identity("alice")
        ids = [j.job_id for j in iw.wms.submit(['[ Executable = "/bin/sh"; Arguments = "-c \'exit 0\'"; ]',
                                                 '[ Executable = "/bin/sh"; Arguments = "-c \'exit 3\'"; ]'],
                                                alice)]
        report = run_local_pilot(iw, site=SITE, work_dir=tmp_path / "node", stamp="local-test")
        assert sorted((o.job_id, o.status, o.exit_code) for o in report.outcomes) == [
            (ids[0], "Done", 0), (ids[1], "Failed", 3)]
        assert report.stopped_because
        record = iw.pilots.get(["local-test"])["local-test"]
        assert (record["DestinationSite"], record["VO"], record["Status"]) == (SITE, "demo", PilotStatus.DONE)
        assert {iw.wms.get_jobs([i])[i]["site"] for i in ids} == {SITE}


def test_the_pilot_identity_is_the_registrys_generic_pilot(tmp_path: Path) -> None:
    with Interware.embedded(tmp_path) as iw:
        me = pilot_identity(iw, stamp="s-1")
        assert (me.user, me.group, me.vo, me.pilot_stamp) == ("pilot", "demo_pilot", "demo", "s-1")
        with pytest.raises(NotFound, match="GenericPilot group with users in VO other"):
            pilot_identity(iw, "other", stamp="s-2")


def test_no_pilot_user_no_pilot(tmp_path: Path) -> None:
    (tmp_path / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=tmp_path.as_posix()).replace(
        'users = ["pilot"]', "users = []"))
    with Interware.embedded(tmp_path) as iw, pytest.raises(NotFound, match="GenericPilot"):
        run_local_pilot(iw, site=SITE, work_dir=tmp_path / "node")
