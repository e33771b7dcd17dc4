"""The batch CE (SLURM x local transport, SLURM x ssh) passes the CE conformance suite on the real
cluster; its output comes from the batch job's files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ce_live_helpers import LIVE_DEADLINE, ssh_transport

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import ComputingElement
from dirac_core.plugins.transport import Transport
from dirac_core.testing.conformance.computing import ComputingElementSuite
from dirac_core.testing.slurm import SlurmCluster
from dirac_plugins_ce.batch.slurm import Slurm
from dirac_plugins_ce.batch_ce import BatchComputingElement
from dirac_plugins_ce.transports import LocalTransport


def _transport(kind: str, request: pytest.FixtureRequest, cluster: SlurmCluster) -> Transport:
    if kind == "local":
        return LocalTransport(environment=cluster.env)
    return ssh_transport(request.getfixturevalue("sshd_server"), environment=cluster.env)


class TestBatchSlurmConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture(params=["local", "ssh"])
    def driver(self, request: pytest.FixtureRequest, slurm_cluster: SlurmCluster,
               tmp_path: Path) -> Iterator[ComputingElement]:
        transport = _transport(request.param, request, slurm_cluster)
        with BatchComputingElement(name="slurm", batch=Slurm(), transport=transport,
                                   work_dir=str(tmp_path / "ce"), queue=slurm_cluster.partition) as ce:
            yield ce


def test_a_pilots_output_is_read_back_from_the_cluster(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    ce = BatchComputingElement(name="slurm", batch=Slurm(),
                               transport=LocalTransport(environment=slurm_cluster.env),
                               work_dir=str(tmp_path / "ce"), queue=slurm_cluster.partition)
    ref = ce.submit("#!/bin/sh\necho stamp=$DIRAC_PILOT_STAMP\necho oops >&2\n", ["s-1"]).ok["s-1"]
    deadline = time.monotonic() + LIVE_DEADLINE
    while ce.status([ref]).ok[ref] is not PilotStatus.DONE:
        assert time.monotonic() < deadline, ce.status([ref])
        time.sleep(0.2)  # a real batch job: look again shortly
    assert ce.output(ref) == ("stamp=s-1\n", "oops\n")
    assert ce.ce_status().running == ce.ce_status().waiting == 0
    ce.close()
