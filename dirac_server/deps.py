"""Request dependencies: the interware behind the app, and the caller's verified identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from dirac_core.authorization import Action, allowed
from dirac_core.errors import NotAuthenticated, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_server.errors import BadRequest
from dirac_server.settings import ServerSettings

__all__ = ["JOB_HEADER", "Acting", "Caller", "Iw", "Settings", "acting", "acting_job", "bearer_token",
           "caller"]

#: a pilot names in this header the job it acts for (its data, its failover requests)
JOB_HEADER = "X-Dirac-Job"


def interware(request: Request) -> Interware:
    """The interware the app serves."""
    iw: Interware = request.app.state.interware
    return iw


def settings(request: Request) -> ServerSettings:
    """The server's settings."""
    found: ServerSettings = request.app.state.settings
    return found


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; 401 when absent, 400 when malformed."""
    if not authorization:
        raise NotAuthenticated("not authenticated")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadRequest("malformed Authorization header (expected 'Bearer <token>')")
    return token.strip()


def caller(request: Request,
           authorization: Annotated[str | None, Header()] = None) -> Identity:
    """The identity of the access token the request carries."""
    iw = interware(request)
    return iw.auth.tokens.identity(bearer_token(authorization))


Iw = Annotated[Interware, Depends(interware)]
Settings = Annotated[ServerSettings, Depends(settings)]
Caller = Annotated[Identity, Depends(caller)]


def acting_job(request: Request, identity: Identity) -> int | None:
    """The job named by the ``X-Dirac-Job`` header, checked (``job.act_for``): only a pilot may name
    one, and only a job it was given (403 otherwise; 400 for a header that is not a job id)."""
    value = request.headers.get(JOB_HEADER)
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) < 2**63:
        raise BadRequest(f"{JOB_HEADER} must be a job id, got {value[:32]!r}")
    job_id = int(value)
    held = interware(request).wms.jobs_of_pilot(identity.pilot_stamp) if identity.pilot_stamp else None
    decision = allowed(identity, Action.JOB_ACT_FOR, job_id, held=held)
    if not decision:
        raise PermissionDenied(f"{decision.reason} ({JOB_HEADER})", user=identity.user, job=job_id)
    return job_id


def acting(request: Request, identity: Caller) -> Identity:
    """Who the call acts as: the caller, or, for a pilot naming one of its jobs in ``X-Dirac-Job``,
    the owner of that job in the job's group (so the catalog checks the owner's rights)."""
    job_id = acting_job(request, identity)
    if job_id is None:
        return identity
    iw = interware(request)
    job = iw.wms.get_jobs([job_id])[job_id]
    return iw.identity(job["owner"], job["owner_group"])


Acting = Annotated[Identity, Depends(acting)]
