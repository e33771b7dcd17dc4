"""``/api/health``: liveness, readiness (the database answers) and start-up."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dirac_core.errors import DatabaseUnavailable
from dirac_server.deps import Iw

router = APIRouter(prefix="/api/health", tags=["health"], include_in_schema=False)


@router.get("/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "live"}


@router.get("/ready")
def ready(iw: Iw) -> JSONResponse:
    """The database answers (503 otherwise)."""
    try:
        iw.database.check()
    except DatabaseUnavailable:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/startup")
def startup() -> dict[str, str]:
    """Start-up is over once the app serves."""
    return {"status": "started"}
