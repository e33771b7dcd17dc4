"""The web portal of the reference server: job, pilot, site, transformation and accounting monitors.

Server-rendered pages (Jinja2, autoescaped) with a little local JavaScript, mounted at
``/portal`` by :func:`install`. Logging in goes through the server's own
authorization-code flow with PKCE; the session is the token pair in an HttpOnly,
SameSite=Strict cookie. Every answer carries a strict Content-Security-Policy
(no inline script, nothing from another origin, never framed). See ``docs/portal.md``.
"""

from dirac_server.portal.app import SECURITY_HEADERS, create_portal, install
from dirac_server.portal.pages import MOUNT, allow_portal_login, callback_url

__all__ = ["MOUNT", "SECURITY_HEADERS", "allow_portal_login", "callback_url", "create_portal", "install"]
