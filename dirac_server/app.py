"""The reference server: an :class:`~dirac_core.interware.Interware` behind DiracX's HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from dirac_core.interware import Interware
from dirac_core.wms.sandboxes import SandboxCleaning
from dirac_server.errors import install_error_handlers
from dirac_server.limits import BodySizeLimit
from dirac_server.matching import MatchBatcher
from dirac_server.periodic import TaskThread
from dirac_server.portal import install as install_portal
from dirac_server.routes import (
    accounting,
    auth,
    auth_x509,
    catalog,
    config,
    health,
    jobs,
    pilots,
    productions,
    requests,
    sandboxes,
    status,
    transformations,
    wellknown,
)
from dirac_server.settings import ServerSettings

__all__ = ["create_app"]


def create_app(interware: Interware, settings: ServerSettings | None = None) -> FastAPI:
    """A FastAPI app serving ``interware``; it keeps no state but the database's.

    The caller owns the interware (closes it). Serve the app with uvicorn,
    or use ``dirac-core server``.
    """
    chosen = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = TaskThread(interware.scheduler, chosen.tasks_every) if chosen.tasks_every else None
        app.state.tasks = tasks
        if tasks is not None:
            tasks.start()
        try:
            yield
        finally:
            if tasks is not None:
                tasks.stop()

    app = FastAPI(title=chosen.title, version="0.1.0", lifespan=lifespan,
                  description="dirac-core reference server (DiracX-compatible API)")
    app.state.interware = interware
    app.state.settings = chosen
    app.state.matcher = MatchBatcher(interware.wms, limit=chosen.match_batch)
    app.state.sandboxes = sandboxes.make_store(interware, chosen)
    if app.state.sandboxes is not None and chosen.sandbox_keep_days:
        cleaning = SandboxCleaning(app.state.sandboxes, timedelta(days=chosen.sandbox_keep_days))
        if cleaning.name not in interware.scheduler.tasks:  # one per interware, however many apps
            interware.add_task(cleaning)
    install_error_handlers(app)
    for module in (wellknown, auth, auth_x509, sandboxes, jobs, pilots, catalog, requests, transformations,
                   productions, config, health, accounting, status):
        app.include_router(module.router)
    install_portal(app, interware)  # the web portal at /portal (and / sends there)
    # a sandbox upload may be as large as a sandbox (and its multipart envelope)
    app.add_middleware(BodySizeLimit, limit=chosen.max_body_bytes,
                       paths={sandboxes.UPLOAD_PATH: chosen.sandbox_max_bytes + 64 * 1024})
    return app
