"""The ARC computing element: pilots as jobs of a NorduGrid A-REX, through its REST interface 1.0.

Submission: one ARC job per pilot stamp, described in xRSL
(:mod:`dirac_plugins_ce.arc_jobdesc`); the pilot script is uploaded into the
job's session directory as ``pilot.sh`` and is the job's executable; its
standard output and error are kept as ``pilot.out`` and ``pilot.err``.
References are ``arc://<host>:<port>/<ARC job id>``, unique per CE.

Status combines the REST state (``jobs?action=status``, one call per 100
jobs, late by up to the info-provider period) with the immediate internal
state (``jobs/<id>/diagnose/status``) of every job not yet known final; see
:mod:`dirac_plugins_ce.arc_states` for the mapping.

Authentication: a client certificate (or an RFC 3820 proxy holding
certificate and key), a bearer token read from a file at each request, or
both; the server is verified against a CA file or a hashed CA directory
(``/etc/grid-security/certificates`` when configured so).

Errors: an unreachable CE raises :class:`~dirac_core.errors.CEUnreachable`
(with ``url``); an HTTP error status raises :class:`~dirac_core.errors.CEError`
with ``status`` and a ``body`` excerpt; in bulk results an unknown reference
fails with :class:`~dirac_core.errors.NotFound`.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import httpx

from dirac_core.config.sections import ArcCE
from dirac_core.errors import BulkResult, CEError, CEUnreachable, ConfigError, NotFound, PluginError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext, CEStatus, ComputingElement
from dirac_plugins_ce.arc_jobdesc import PILOT_ERR, PILOT_OUT, PILOT_SCRIPT, PilotJob, multi_xrsl
from dirac_plugins_ce.arc_rest import ArcRestClient, BearerTokenFile, JobAnswer
from dirac_plugins_ce.arc_states import ArcInternalState, parse_internal_state, parse_rest_state, pilot_status

if TYPE_CHECKING:
    from dirac_core.config.queues import Queue
    from dirac_core.config.sections import CESection

__all__ = ["DEFAULT_CA_DIR", "ArcComputingElement", "glue2_free_slots", "tls_context"]

log = logging.getLogger(__name__)

#: where grid CAs live on a worker or service host; used when a section names no ``ca``
DEFAULT_CA_DIR = "/etc/grid-security/certificates"
#: pilots described per ``jobs?action=new`` request
SUBMIT_CHUNK = 50
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]+")


def tls_context(*, ca: str | None = None, cert_file: str | None = None,
                key_file: str | None = None) -> ssl.SSLContext:
    """A client SSL context trusting ``ca`` and presenting ``cert_file``/``key_file``.

    ``ca`` is a PEM file or a hashed CA directory; None trusts the system's
    CAs. ``cert_file`` alone may hold certificate and key (a proxy). Raises
    :class:`CEError` (with ``path``) when a file cannot be read or loaded.
    """
    try:
        if ca is not None and os.path.isdir(ca):
            context = ssl.create_default_context(capath=ca)
        else:
            context = ssl.create_default_context(cafile=ca)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise CEError(f"cannot load TLS credentials (ca={ca}, cert={cert_file}, key={key_file}): {exc}",
                      ca=ca, cert_file=cert_file, key_file=key_file) from exc
    return context


def _items(value: Any) -> Iterator[dict[str, Any]]:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            yield item


def glue2_free_slots(info: Mapping[str, Any], queue: str | None) -> int | None:
    """``FreeSlots`` of the GLUE2 ComputingShare serving ``queue``, from A-REX's JSON.

    The share is the first whose ``MappingQueue`` (or ``Name``) is ``queue``;
    with no queue, the first share. None when no share matches or it gives
    no number.
    """
    domains = info.get("Domains", {}) if isinstance(info, Mapping) else {}
    for domain in _items(domains.get("AdminDomain") if isinstance(domains, dict) else None):
        for service in _items(domain.get("Services", {}).get("ComputingService")):
            for share in _items(service.get("ComputingShare")):
                if queue is not None and queue not in (share.get("MappingQueue"), share.get("Name")):
                    continue
                try:
                    return int(share["FreeSlots"])
                except (KeyError, TypeError, ValueError):
                    return None
    return None


class ArcComputingElement(ComputingElement):
    """Submit, follow, kill and read pilots on one queue of an A-REX (REST interface 1.0).

    ``url`` is the A-REX service endpoint (``https://host:port/arex``; a URL
    without a path gets ``/arex``). ``queue`` is the ARC queue (None: the CE's
    default); ``processors`` > 1 asks for that many cores per pilot;
    ``xrsl_extra`` is appended to every job description. Credentials: see
    :func:`tls_context` and ``token_file`` (a bearer token, re-read at every
    request). ``transport`` replaces the network (tests). Thread-safe.

    The constructor raises ``ValueError`` for a URL that is not http(s) and
    :class:`CEError` for credential files that cannot be loaded.
    """

    def __init__(self, url: str, *, queue: str | None = None, processors: int = 1,
                 xrsl_extra: str | None = None, ca: str | None = None, cert_file: str | None = None,
                 key_file: str | None = None, token_file: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if parsed.path in ("", "/"):
            parsed = parsed.copy_with(path="/arex")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.url = str(parsed).rstrip("/")
        self.queue = queue
        self.processors = processors
        self.xrsl_extra = xrsl_extra
        self.ca, self.cert_file, self.key_file, self.token_file = ca, cert_file, key_file, token_file
        self.prefix = f"arc://{parsed.host}:{port}/"
        verify: ssl.SSLContext | bool = (tls_context(ca=ca, cert_file=cert_file, key_file=key_file)
                                         if parsed.scheme == "https" else False)
        self._rest = ArcRestClient(self.url, verify=verify, timeout=timeout, transport=transport,
                                   auth=BearerTokenFile(token_file) if token_file else None)
        self._closed = threading.Event()

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """Build the driver for ``queue`` of an :class:`~dirac_core.config.sections.ArcCE` section.

        Credentials, each optional:

        - client certificate: ``options.cert`` and ``options.key`` (PEM files),
          else ``context.proxy_file`` (certificate and key in one file);
        - bearer token: ``options.token_file``, else ``context.token_file``;
        - trusted CAs: ``options.ca`` (a PEM file or hashed directory), else
          ``/etc/grid-security/certificates`` when it exists, else the system's.

        ``options.timeout`` (seconds, default 30) bounds each HTTP call. Raises
        :class:`PluginError` for a section of another type and
        :class:`ConfigError` for ``interface = "emies"`` or an option of the
        wrong type.
        """
        if not isinstance(section, ArcCE):
            raise PluginError(f"{cls.__name__} needs an ArcCE section, not {type(section).__name__}",
                              driver=cls.__name__)
        if section.interface != "rest":
            raise ConfigError([("interface", f"{section.interface!r} is not supported; use 'rest'")],
                              source=section.name)
        options = section.options
        problems = [(f"options.{key}", f"expected a string, got {options[key]!r}")
                    for key in ("cert", "key", "ca", "token_file")
                    if key in options and not isinstance(options[key], str)]
        raw_timeout = options.get("timeout", 30.0)
        timeout = 0.0
        if isinstance(raw_timeout, int | float) and not isinstance(raw_timeout, bool):
            timeout = float(raw_timeout)
        if timeout <= 0:
            problems.append(("options.timeout", f"expected a positive number of seconds: {raw_timeout!r}"))
        if problems:
            raise ConfigError(problems, source=section.name)

        def text(key: str) -> str | None:
            value = options.get(key)
            return value if isinstance(value, str) and value else None

        cert = text("cert") or context.proxy_file
        ca = text("ca") or (DEFAULT_CA_DIR if os.path.isdir(DEFAULT_CA_DIR) else None)
        return cls(section.url, queue=queue.name, processors=queue.processors,
                   xrsl_extra=section.xrsl_extra, ca=ca, cert_file=cert,
                   key_file=text("key") if text("cert") else None,
                   token_file=text("token_file") or context.token_file, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self._rest.close()

    # -- references ------------------------------------------------------------

    def reference(self, job_id: str) -> str:
        """The pilot reference of ARC job ``job_id`` on this CE."""
        return self.prefix + job_id

    def job_id(self, reference: str) -> str:
        """The ARC job id in ``reference``; raises :class:`NotFound` if it is not one of this CE's."""
        job_id = reference.removeprefix(self.prefix)
        if job_id == reference or not _JOB_ID.fullmatch(job_id):
            raise NotFound(f"{reference!r} is not a job of ARC CE {self.url}", reference=reference)
        return job_id

    def _split(self, references: Sequence[str], result: BulkResult[str, Any]) -> dict[str, str]:
        """Reference -> job id of the references that name a job here; the others fail NotFound."""
        ids: dict[str, str] = {}
        for ref in dict.fromkeys(references):
            try:
                ids[ref] = self.job_id(ref)
            except NotFound as exc:
                result.add_failed(ref, exc)
        return ids

    def _answer_error(self, ref: str, answer: JobAnswer | None) -> NotFound | CEError:
        if answer is None or answer.code == 404:
            return NotFound(f"no job {ref!r} on ARC CE {self.url}", reference=ref)
        return CEError(f"ARC CE {self.url} refused {ref!r}: {answer.code} {answer.reason}",
                       reference=ref, status=answer.code, reason=answer.reason)

    # -- the contract ----------------------------------------------------------

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """Create one ARC job per stamp and upload ``executable`` into each as its executable.

        A stamp whose job A-REX refuses, or whose upload fails, fails with
        :class:`CEError` (a job created without its script is killed). Raises
        :class:`CEUnreachable` or :class:`CEError` when the first creation
        request fails, since then nothing was submitted.
        """
        result: BulkResult[str, str] = BulkResult()
        jobs = [PilotJob(stamp=stamp, queue=self.queue, processors=self.processors, extra=self.xrsl_extra)
                for stamp in dict.fromkeys(stamps)]
        script = executable.encode()
        for start in range(0, len(jobs), SUBMIT_CHUNK):
            chunk = jobs[start:start + SUBMIT_CHUNK]
            try:
                answers = self._rest.create_jobs(multi_xrsl(chunk))
            except CEError as exc:
                if not result.ok:
                    raise
                for job in chunk:
                    result.add_failed(job.stamp, exc)
                continue
            if len(answers) != len(chunk):
                self._discard([answer.id for answer in answers if answer.id])
                error = CEError(f"ARC CE {self.url} answered {len(answers)} jobs for {len(chunk)} pilots",
                                url=self.url)
                for job in chunk:
                    result.add_failed(job.stamp, error)
                continue
            for job, answer in zip(chunk, answers, strict=True):
                self._upload(job.stamp, answer, script, result)
        return result

    def _upload(self, stamp: str, answer: JobAnswer, script: bytes, result: BulkResult[str, str]) -> None:
        if answer.code != 201 or not answer.id:
            result.add_failed(stamp, CEError(
                f"ARC CE {self.url} refused pilot {stamp!r}: {answer.code} {answer.reason}",
                stamp=stamp, status=answer.code, reason=answer.reason))
            return
        try:
            self._rest.put_file(answer.id, PILOT_SCRIPT, script)
        except CEError as exc:
            self._discard([answer.id])
            result.add_failed(stamp, exc)
            return
        result.add_ok(stamp, self.reference(answer.id))

    def _discard(self, job_ids: list[str]) -> None:
        """Best-effort kill of jobs that will never get their script."""
        if not job_ids:
            return
        try:
            self._rest.kill(job_ids)
        except CEError as exc:
            log.warning("could not kill incomplete ARC jobs %s on %s: %s", job_ids, self.url, exc)

    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        """The pilot status of each reference (module doc); unknown ones fail with ``NotFound``.

        A job whose diagnostics cannot be read fails with :class:`CEError`;
        :class:`CEUnreachable` is raised for the whole call.
        """
        result: BulkResult[str, PilotStatus] = BulkResult()
        ids = self._split(references, result)
        answers = self._rest.states(list(ids.values())) if ids else {}
        for ref, job_id in ids.items():
            answer = answers.get(job_id)
            if answer is None or not 200 <= answer.code < 300:
                result.add_failed(ref, self._answer_error(ref, answer))
                continue
            try:
                result.add_ok(ref, self._refine(ref, job_id, answer))
            except CEUnreachable:
                raise
            except (NotFound, CEError) as exc:
                result.add_failed(ref, exc)
        return result

    def _refine(self, ref: str, job_id: str, answer: JobAnswer) -> PilotStatus:
        rest = parse_rest_state(answer.state)
        quick = pilot_status(rest)
        if quick.is_final:
            return quick
        text = self._rest.diagnose(job_id, "status")
        if text is None:
            raise NotFound(f"no job {ref!r} on ARC CE {self.url}", reference=ref)
        internal = parse_internal_state(text)
        failure = self._rest.diagnose(job_id, "failed") if internal is ArcInternalState.FINISHED else None
        return pilot_status(rest, internal, failure)

    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Ask A-REX to cancel each pilot; a finished pilot succeeds, an unknown one fails ``NotFound``.

        A-REX acknowledges a kill at once (202) and the job reaches KILLED
        some seconds later. With the fork LRMS, A-REX 6's cancel script does
        not reach the payload's processes, which keep running (a limit of
        A-REX, not of this driver); batch LRMSes such as SLURM really kill.
        """
        result: BulkResult[str, None] = BulkResult()
        ids = self._split(references, result)
        answers = self._rest.kill(list(ids.values())) if ids else {}
        refused: dict[str, str] = {}
        for ref, job_id in ids.items():
            answer = answers.get(job_id)
            if answer is not None and 200 <= answer.code < 300:
                result.add_ok(ref, None)
            elif answer is None or answer.code == 404:
                result.add_failed(ref, self._answer_error(ref, answer))
            else:
                refused[ref] = job_id
        if refused:
            # some A-REX versions refuse to kill a job that has ended: that is a success here
            finals = self.status(list(refused))
            for ref, job_id in refused.items():
                if ref in finals.ok and finals.ok[ref].is_final:
                    result.add_ok(ref, None)
                else:
                    result.add_failed(ref, self._answer_error(ref, answers.get(job_id)))
        return result

    def clean(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Ask A-REX to remove finished pilots and their files (not part of the contract).

        Afterwards the references are unknown. A job that has not finished
        fails with :class:`CEError`; an unknown one with ``NotFound``.
        """
        result: BulkResult[str, None] = BulkResult()
        ids = self._split(references, result)
        answers = self._rest.clean(list(ids.values())) if ids else {}
        for ref, job_id in ids.items():
            answer = answers.get(job_id)
            if answer is not None and 200 <= answer.code < 300:
                result.add_ok(ref, None)
            else:
                result.add_failed(ref, self._answer_error(ref, answer))
        return result

    def output(self, reference: str) -> tuple[str, str]:
        """The pilot's ``pilot.out`` and ``pilot.err`` as text ("" for a file not there yet).

        Raises :class:`NotFound` for a reference that is not a job here.
        """
        job_id = self.job_id(reference)
        out = self._rest.session_file(job_id, PILOT_OUT)
        err = self._rest.session_file(job_id, PILOT_ERR)
        if out is None and err is None and self._rest.diagnose(job_id, "status") is None:
            raise NotFound(f"no job {reference!r} on ARC CE {self.url}", reference=reference)
        return ((out or b"").decode(errors="replace"), (err or b"").decode(errors="replace"))

    def ce_status(self) -> CEStatus:
        """Running and waiting pilots among every job A-REX holds for our identity.

        The counts cover all queues of the CE (A-REX's job list does not say
        the queue). ``available_processors`` is the GLUE2 ``FreeSlots`` of our
        queue's share, None when A-REX does not publish it.
        """
        references = [self.reference(job_id) for job_id in self._rest.list_jobs()]
        statuses = list(self.status(references).ok.values()) if references else []
        try:
            free = glue2_free_slots(self._rest.glue2(), self.queue)
        except CEUnreachable:
            raise
        except CEError as exc:
            log.warning("no GLUE2 information from %s: %s", self.url, exc)
            free = None
        return CEStatus(running=sum(s is PilotStatus.RUNNING for s in statuses),
                        waiting=sum(s.is_waiting for s in statuses), available_processors=free)
