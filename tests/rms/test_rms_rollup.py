"""The roll-up rules: operation statuses from files, request status from operations (DIRAC's)."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidRequest
from dirac_core.model.lfn import InvalidLFN
from dirac_core.model.request import OperationStatus as O
from dirac_core.model.request import RequestFileStatus as F
from dirac_core.model.request import RequestStatus as R
from dirac_core.rms import MAX_FILES, Operation, Request, RequestFile, operation_status, roll_up, validate


def _op(*statuses: F, status: O = O.QUEUED, kind: str = "RemoveFile") -> Operation:
    files = [RequestFile(lfn=f"/vo/f{i}", status=s) for i, s in enumerate(statuses)]
    return Operation(type=kind, status=status, files=files)


@pytest.mark.parametrize(("files", "expected"), [
    ((F.FAILED, F.FAILED), O.FAILED),
    ((F.WAITING, F.FAILED), O.QUEUED),
    ((F.DONE, F.FAILED), O.FAILED),
    ((F.SCHEDULED, F.FAILED), O.SCHEDULED),
    ((F.WAITING, F.SCHEDULED, F.DONE, F.FAILED), O.SCHEDULED),
    ((F.DONE, F.DONE), O.DONE),
    ((F.WAITING,), O.QUEUED),
])
def test_an_operation_takes_the_status_its_files_give(files: tuple[F, ...], expected: O) -> None:
    assert operation_status(_op(*files)) is expected


def test_an_operation_without_files_keeps_its_status_and_the_current_one_stays_waiting() -> None:
    assert operation_status(Operation(type="CallHook", status=O.SCHEDULED)) is O.SCHEDULED
    assert operation_status(_op(F.WAITING, status=O.WAITING)) is O.WAITING


@pytest.mark.parametrize(("ops", "expected", "after"), [
    ([O.QUEUED, O.FAILED], R.WAITING, [O.WAITING, O.FAILED]),  # a later failure waits its turn
    ([O.DONE, O.FAILED], R.FAILED, [O.DONE, O.FAILED]),
    ([O.DONE, O.SCHEDULED, O.QUEUED], R.SCHEDULED, [O.DONE, O.SCHEDULED, O.QUEUED]),
    ([O.DONE, O.DONE], R.DONE, [O.DONE, O.DONE]),
    ([O.WAITING, O.WAITING], R.WAITING, [O.WAITING, O.QUEUED]),
    ([O.DONE, O.CANCELED, O.QUEUED], R.CANCELED, [O.DONE, O.CANCELED, O.QUEUED]),
    ([], R.WAITING, []),
])
def test_a_request_takes_the_status_its_operations_give(ops: list[O], expected: R, after: list[O]) -> None:
    request = Request(name="r", operations=[Operation(type="CallHook", status=s) for s in ops])
    assert roll_up(request) is expected
    assert [op.status for op in request.operations] == after


def test_a_failed_file_in_the_first_operation_fails_the_request_and_the_second_stays_queued() -> None:
    request = Request(name="r", operations=[_op(F.WAITING), _op(F.WAITING)])
    assert roll_up(request) is R.WAITING and request.current is request.operations[0]
    request.operations[0].files[0].set_status(F.FAILED, "no such file")
    request.operations[0].error = "no such file"
    assert roll_up(request) is R.FAILED
    assert [op.status for op in request.operations] == [O.FAILED, O.QUEUED]
    assert request.error == "no such file"


def test_done_clears_errors_and_a_canceled_request_stays_canceled() -> None:
    request = Request(name="r", operations=[_op(F.WAITING)])
    request.operations[0].files[0].set_status(F.WAITING, "SE down")
    assert request.operations[0].files[0].error == "SE down"
    request.operations[0].files[0].set_status(F.DONE, "ignored")
    assert request.operations[0].files[0].error == ""
    assert roll_up(request) is R.DONE
    canceled = Request(name="c", status=R.CANCELED, operations=[_op(F.DONE)])
    assert roll_up(canceled) is R.CANCELED


def test_values_are_normalised_where_dirac_normalises_them() -> None:
    file = RequestFile(lfn="//vo//data/x", checksum="0a0b0c0d", checksum_type="ad")
    assert (file.lfn, file.checksum_type) == ("/vo/data/x", "ADLER32")
    op = Operation(type="ReplicateAndRegister", target_se="SE-A, SE-B,SE-A")
    assert op.target_se == ("SE-A", "SE-B")


def _valid() -> Request:
    return Request(name="r", owner="alice", owner_group="demo_user", vo="demo",
                   operations=[Operation(type="ReplicateAndRegister", target_se=["SE-A"],
                                         files=[RequestFile(lfn="/demo/f")])])


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda r: setattr(r, "owner", ""), "no owner"),
    (lambda r: r.operations.clear(), "has no operations"),
    (lambda r: setattr(r.operations[0], "type", "Teleport"), "unknown operation type"),
    (lambda r: setattr(r.operations[0], "files", []), "works on files and has none"),
    (lambda r: setattr(r.operations[0], "target_se", ()), "target_se is required"),
    (lambda r: r.operations[0].files.append(RequestFile(lfn="/demo/f")), "appears twice"),
    (lambda r: setattr(r.operations[0].files[0], "checksum", "0a0b0c0d"), "go together"),
    (lambda r: r.operations.append(Operation(type="SetFileStatus", arguments={"x": 1},
                                             files=[RequestFile(lfn="/demo/g")])), "takes no files"),
    (lambda r: setattr(r.operations[0], "files", [RequestFile(lfn=f"/demo/{i}")
                                                   for i in range(MAX_FILES + 1)]), "at most 10000"),
])
def test_validation_names_what_is_missing(spoil: object, message: str) -> None:
    validate(_valid())
    request = _valid()
    spoil(request)  # type: ignore[operator]
    with pytest.raises(InvalidRequest, match=message):
        validate(request)


def test_bad_lfns_and_statuses_are_refused_when_the_value_is_built() -> None:
    with pytest.raises(ValueError, match="Teleported"):
        RequestFile(lfn="/demo/f", status="Teleported")  # type: ignore[arg-type]
    with pytest.raises(InvalidLFN, match=r"\.\."):
        RequestFile(lfn="/demo/../etc/passwd")
