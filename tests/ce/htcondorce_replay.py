"""A schedd that replays recorded HTCondor answers, for the HTCondor-CE driver tests.

:class:`ReplaySchedd` implements :class:`~dirac_plugins_ce.htcondorce_schedd.ScheddClient`
over job ads loaded from ``samples/htcondorce`` (see its README). It answers
``query``/``history`` by evaluating the two constraint forms the driver
writes (``(ClusterId == c && ProcId == p) || ...`` and ``Attr == "value" &&
...``), returns only the projected attributes (as ClassAds do), and moves
jobs as a schedd would: a submission queues Idle jobs, a removal sends them
to the history as Removed. Failures are the bindings' own exception class
and recorded messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples" / "htcondorce"

_ID_PAIR = re.compile(r"ClusterId == (\d+) && ProcId == (\d+)")
_STR_EQ = re.compile(r'(\w+) == "((?:[^"\\]|\\.)*)"')


class HTCondorException(Exception):
    """Stands for ``htcondor2.HTCondorException``: the bindings raise this one class for everything."""


def load(name: str) -> Any:
    """A recorded sample, parsed."""
    return json.loads((SAMPLES / name).read_text())


def recorded_error(key: str) -> HTCondorException:
    """The bindings' exception with a message from ``errors.json``."""
    return HTCondorException(load("errors.json")[key])


def _job_id(ad: Mapping[str, Any]) -> str:
    return f"{ad['ClusterId']}.{ad['ProcId']}"


def _matches(constraint: str, ad: Mapping[str, Any]) -> bool:
    pairs = set(_ID_PAIR.findall(constraint))
    if pairs and (str(ad["ClusterId"]), str(ad["ProcId"])) not in pairs:
        return False
    return all(str(ad.get(attr)) == value for attr, value in _STR_EQ.findall(constraint))


def _unquote(value: str) -> str:
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


class ReplaySchedd:
    """A schedd holding recorded job ads; tests drive the jobs with :meth:`set` and :meth:`finish`.

    ``failures`` maps a method name to the exception its calls raise;
    ``remove_answer`` is a recorded ``act`` answer returned instead of
    removing anything (a refusal); ``outputs`` are the files ``retrieve``
    brings back (job id -> (out, err)). ``calls`` records every call.
    """

    def __init__(self, *, queue: Sequence[Mapping[str, Any]] = (), history: Sequence[Mapping[str, Any]] = (),
                 next_cluster: int = 5000) -> None:
        self.queue: dict[str, dict[str, Any]] = {_job_id(ad): dict(ad) for ad in queue}
        self.finished: dict[str, dict[str, Any]] = {_job_id(ad): dict(ad) for ad in history}
        self.next_cluster = next_cluster
        self.failures: dict[str, Exception] = {}
        self.remove_answer: dict[str, Any] | None = None
        self.outputs: dict[str, tuple[str, str]] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.submissions: list[tuple[dict[str, str], list[dict[str, str]], bool]] = []

    @classmethod
    def from_samples(cls, queue: str | None = None, history: str | None = None) -> ReplaySchedd:
        """A schedd holding the recorded ``queue`` and ``history`` sample files."""
        return cls(queue=load(queue) if queue else (), history=load(history) if history else ())

    def _enter(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if method in self.failures:
            raise self.failures[method]

    def calls_to(self, method: str) -> list[tuple[Any, ...]]:
        """The arguments of every call to ``method``."""
        return [args for name, args in self.calls if name == method]

    # -- ScheddClient ------------------------------------------------------------

    def submit(self, description: Mapping[str, str], items: Sequence[Mapping[str, str]], *,
               spool: bool) -> list[str]:
        self._enter("submit", description, items, spool)
        self.submissions.append((dict(description), [dict(i) for i in items], spool))
        cluster = self.next_cluster
        self.next_cluster += 1
        for proc, item in enumerate(items):
            self.queue[f"{cluster}.{proc}"] = {
                "ClusterId": cluster, "ProcId": proc, "JobStatus": 1,
                "DiracCE": _unquote(description["+DiracCE"]),
                "DiracQueue": _unquote(description["+DiracQueue"]),
                "DiracPilotStamp": item["stamp"], "Iwd": description["initialdir"],
                "Out": f"{cluster}.{proc}.out", "Err": f"{cluster}.{proc}.err"}
        return [f"{cluster}.{proc}" for proc in range(len(items))]

    def query(self, constraint: str, projection: Sequence[str]) -> list[dict[str, Any]]:
        self._enter("query", constraint, tuple(projection))
        return [self._project(ad, projection) for ad in self.queue.values() if _matches(constraint, ad)]

    def history(self, constraint: str, projection: Sequence[str], *, match: int) -> list[dict[str, Any]]:
        self._enter("history", constraint, tuple(projection), match)
        found = [self._project(ad, projection) for ad in self.finished.values() if _matches(constraint, ad)]
        return found[:match] if match >= 0 else found

    def remove(self, job_ids: Sequence[str]) -> dict[str, Any]:
        self._enter("remove", tuple(job_ids))
        if self.remove_answer is not None:
            return dict(self.remove_answer)
        removed = [job_id for job_id in job_ids if job_id in self.queue
                   and self.queue[job_id]["JobStatus"] not in (3, 4)]
        for job_id in removed:
            ad = self.queue.pop(job_id)
            self.finished[job_id] = {**ad, "JobStatus": 3, "RemoveReason": "Python-initiated action"}
        return {"TotalError": 0, "TotalSuccess": len(removed), "TotalNotFound": len(job_ids) - len(removed),
                "TotalBadStatus": 0, "TotalAlreadyDone": 0, "TotalPermissionDenied": 0,
                "TotalJobAds": len(job_ids), "TotalChangedAds": 1 if removed else 0}

    def retrieve(self, job_ids: Sequence[str]) -> None:
        self._enter("retrieve", tuple(job_ids))
        for job_id in job_ids:
            if job_id in self.outputs:
                self._write(job_id, *self.outputs[job_id])

    # -- driving the jobs --------------------------------------------------------

    @staticmethod
    def _project(ad: Mapping[str, Any], projection: Sequence[str]) -> dict[str, Any]:
        return {key: ad[key] for key in projection if ad.get(key) is not None}

    def _write(self, job_id: str, out: str, err: str) -> None:
        ad = self.queue.get(job_id) or self.finished[job_id]
        Path(ad["Iwd"], ad["Out"]).write_text(out)
        Path(ad["Iwd"], ad["Err"]).write_text(err)

    def set(self, job_id: str, **attributes: Any) -> None:
        """Change a queued job's attributes (``JobStatus=2``, ``GridJobStatus="RUNNING"``, ...)."""
        self.queue[job_id].update(attributes)

    def finish(self, job_id: str, *, exit_code: int = 0, output: tuple[str, str] = ("", ""),
               spooled: bool = False) -> None:
        """Complete a job: it goes to the history, its output to its directory (or to the spool)."""
        ad = self.queue.pop(job_id)
        self.finished[job_id] = {**ad, "JobStatus": 4, "ExitCode": exit_code, "ExitBySignal": False}
        if spooled:
            self.outputs[job_id] = output
        else:
            self._write(job_id, *output)
