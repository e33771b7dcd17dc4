"""``/api/jobs/sandbox...``: DiracX's sandbox routes, with the store in a directory or on an SE.

DiracX hands out presigned S3 URLs; here the upload and download URLs are the server's own
routes (``/api/jobs/sandbox/upload`` and ``/download``), authorized not by a bearer token but by
a short-lived token signed with the server's key (``typ`` ``sandbox-upload`` or
``sandbox-download``, naming one PFN): the client sends no ``Authorization`` header, as to S3.
The bytes pass through the server whatever keeps them (a directory, or a storage element
reached through its protocols); a storage element that fails answers 503.

Who may use a sandbox (``sandbox.read`` of :mod:`dirac_core.authorization`): its uploader (and a
sharing group, an administrator, as for jobs); whoever may read a job that has it (``job.read``);
a pilot, the input sandboxes of the jobs it may update (``job.update``). Anything else is
answered like a sandbox that does not exist (404).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Form, HTTPException, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from dirac_core.authorization import Action, allowed, require
from dirac_core.errors import ChecksumMismatch, NotAuthenticated, NotFound, StorageError
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.wms.sandboxes import SandboxStore
from dirac_server.deps import Caller, Iw, Settings
from dirac_server.errors import BadRequest
from dirac_server.routes.jobs import MAX_JOB_ID, JobIDs, permitted
from dirac_server.settings import ServerSettings

router = APIRouter(prefix="/api/jobs", tags=["sandboxes"])
log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/jobs/sandbox/upload"
JobPath = Annotated[int, Path(ge=1, le=MAX_JOB_ID)]


class SandboxInfo(BaseModel):
    """DiracX's upload request."""

    checksum_algorithm: Literal["sha256"]
    checksum: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size: int = Field(ge=1)
    format: Literal["tar.bz2", "tar.zst"]


def make_store(iw: Interware, settings: ServerSettings) -> SandboxStore | None:
    """The store of ``settings.sandbox_dir`` or ``sandbox_se``, else of the interware's ``[sandboxes]``
    (by default beside a SQLite file); None when nothing says where. ``NotFound`` for an unknown SE."""
    return SandboxStore.for_interware(iw, directory=settings.sandbox_dir, se=settings.sandbox_se,
                                      se_path=settings.sandbox_se_path, max_size=settings.sandbox_max_bytes)


def _store(request: Request) -> SandboxStore:
    store: SandboxStore | None = request.app.state.sandboxes
    if store is None:
        raise HTTPException(503, "this server keeps no sandboxes "
                                 "(set ServerSettings.sandbox_dir or sandbox_se)")
    return store


@contextmanager
def _storage_answers(*, mismatch_is_ours: bool) -> Iterator[None]:
    """A failing store as 503 (not the caller's fault); a ``ChecksumMismatch`` too when
    ``mismatch_is_ours`` (a stored copy that went bad), else it stays the caller's 400."""
    try:
        yield
    except StorageError as exc:
        if isinstance(exc, ChecksumMismatch) and not mismatch_is_ours:
            raise
        log.error("sandbox store: %s", exc)
        raise HTTPException(503, f"the sandbox store failed: {exc}") from exc


def _sign(iw: Iw, settings: Settings, kind: str, pfn: str) -> str:
    now = iw.clock.now()
    lifetime = timedelta(seconds=settings.sandbox_url_seconds)
    tokens = iw.auth.tokens
    return tokens.sign({"iss": tokens.settings.issuer, "aud": tokens.settings.audience, "typ": kind,
                        "pfn": pfn, "jti": str(uuid.uuid4()), "iat": int(now.timestamp()),
                        "exp": int((now + lifetime).timestamp())})


def _pfn_of(iw: Iw, token: str, kind: str) -> str:
    pfn = iw.auth.tokens.claims(token, kind=kind).get("pfn")
    if not isinstance(pfn, str):
        raise NotAuthenticated("invalid token")
    return pfn


def _visible_job(iw: Iw, identity: Identity, job_id: int, *, pilot: bool = True) -> None:
    """404 unless ``identity`` may read the job (or, a pilot, update it)."""
    if permitted(iw, identity, [job_id], Action.JOB_READ)[0]:
        return
    if pilot and permitted(iw, identity, [job_id], Action.JOB_UPDATE)[0]:  # the job's pilot
        return
    raise NotFound(f"job {job_id} not found", job_id=job_id)


def _may_download(iw: Iw, identity: Identity, row: dict[str, Any], store: SandboxStore) -> bool:
    if allowed(identity, Action.SANDBOX_READ, row, registry=iw.config.registry):
        return True
    assigned = store.jobs_of(row["pfn"])
    readers = set(permitted(iw, identity, {j for j, _ in assigned}, Action.JOB_READ)[0])
    inputs = {j for j, kind in assigned if kind == "input"}  # for the pilot running the job
    readers |= set(permitted(iw, identity, inputs - readers, Action.JOB_UPDATE)[0])
    return bool(readers)


@router.post("/sandbox")
def init_upload(iw: Iw, identity: Caller, settings: Settings, request: Request,
                body: SandboxInfo) -> dict[str, Any]:
    """Register a sandbox: its PFN, and where to upload it (no ``url``: uploaded already)."""
    store = _store(request)
    require(identity, Action.SANDBOX_WRITE)
    if body.size > settings.sandbox_max_bytes:
        raise BadRequest(f"sandbox of {body.size} bytes over the limit ({settings.sandbox_max_bytes})")
    with _storage_answers(mismatch_is_ours=True):
        pfn, exists = store.init_upload(identity, body.checksum, body.size, body.format)
    if exists:
        return {"pfn": pfn, "url": None, "fields": {}}
    return {"pfn": pfn, "url": str(request.url_for("upload_sandbox")),
            "fields": {"token": _sign(iw, settings, "sandbox-upload", pfn)}}


@router.post("/sandbox/upload", status_code=204)
def upload_sandbox(iw: Iw, request: Request, token: Annotated[str, Form()], file: UploadFile) -> Response:
    """The upload URL (multipart: ``token`` and ``file``): 204; 400 when the bytes differ."""
    store = _store(request)
    pfn = _pfn_of(iw, token, "sandbox-upload")
    with _storage_answers(mismatch_is_ours=False):
        store.store(pfn, file.file)
    return Response(status_code=204)


@router.get("/sandbox")
def download_url(iw: Iw, identity: Caller, settings: Settings, request: Request,
                 pfn: Annotated[str, Query(max_length=512)]) -> dict[str, Any]:
    """A URL to fetch the sandbox from, without a bearer token, for ``expires_in`` seconds."""
    store = _store(request)
    row = store.get(pfn)
    if not row["uploaded"] or not _may_download(iw, identity, row, store):
        raise NotFound(f"sandbox {pfn} not found", pfn=pfn)
    url = request.url_for("download_sandbox").include_query_params(
        token=_sign(iw, settings, "sandbox-download", pfn))
    return {"url": str(url), "expires_in": settings.sandbox_url_seconds}


@router.get("/sandbox/download")
def download_sandbox(iw: Iw, request: Request, token: Annotated[str, Query(max_length=8192)]
                     ) -> FileResponse:
    """The download URL: the archive's bytes (from an SE: a copy checked, sent, then deleted)."""
    pfn = _pfn_of(iw, token, "sandbox-download")
    store = _store(request)
    scratch = ExitStack()
    with _storage_answers(mismatch_is_ours=True):
        path = scratch.enter_context(store.local_file(pfn))
    return FileResponse(path, media_type="application/octet-stream", filename=path.name,
                        background=BackgroundTask(scratch.close))


@router.post("/sandbox/unassign")
def unassign_bulk(iw: Iw, identity: Caller, request: Request, body: JobIDs) -> None:
    """Forget the sandboxes of these jobs (those the caller may manage; the others are ignored)."""
    ok, _ = permitted(iw, identity, body.job_ids, Action.JOB_MANAGE)
    _store(request).unassign(ok)


@router.get("/{job_id}/sandbox")
def of_job(iw: Iw, identity: Caller, request: Request, job_id: JobPath) -> dict[str, list[str]]:
    """The job's sandboxes: ``{"input": [...], "output": [...]}``."""
    store = _store(request)
    _visible_job(iw, identity, job_id)
    return store.of_job(job_id)


@router.get("/{job_id}/sandbox/{kind}")
def of_job_kind(iw: Iw, identity: Caller, request: Request, job_id: JobPath,
                kind: Literal["input", "output"]) -> list[str]:
    """The job's input or output sandboxes."""
    return of_job(iw, identity, request, job_id)[kind]


@router.patch("/{job_id}/sandbox/output")
def assign_output(iw: Iw, identity: Caller, request: Request, job_id: JobPath,
                  pfn: Annotated[str, Body(max_length=512)]) -> None:
    """Give the job an output sandbox (the pilot running it, or its owner): one the caller may use."""
    store = _store(request)
    if not permitted(iw, identity, [job_id], Action.JOB_UPDATE)[0]:
        raise NotFound(f"job {job_id} not found", job_id=job_id)
    row = store.get(pfn)
    if not row["uploaded"] or not allowed(identity, Action.SANDBOX_READ, row, registry=iw.config.registry):
        raise NotFound(f"sandbox {pfn} not found", pfn=pfn)
    store.assign(job_id, "output", [pfn])


@router.delete("/{job_id}/sandbox")
def unassign(iw: Iw, identity: Caller, request: Request, job_id: JobPath) -> None:
    """Forget the job's sandboxes."""
    store = _store(request)
    if not permitted(iw, identity, [job_id], Action.JOB_MANAGE)[0]:
        raise NotFound(f"job {job_id} not found", job_id=job_id)
    store.unassign([job_id])
