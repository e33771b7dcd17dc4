"""The portal tests' grid and helpers: the transformation grid with passwords, the portal's
callback registered, logging in through the authorization-code flow with a test client
(:func:`dirac_core.testing.portal.portal_login`)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from server_helpers import PASSWORD
from server_tfs_helpers import TFS_GRID

from dirac_core.auth.passwords import hash_password
from dirac_core.config import Config, load_config
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.testing.portal import portal_login
from dirac_core.transformation import TransformationSpec
from dirac_server.portal import callback_url

_HASH = hash_password(PASSWORD, iterations=1000)
USERS = ("alice", "bob", "carol", "dave", "sam", "olga", "pilot", "admin")

#: markup that would run if a page put it in the DOM as HTML
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
LFN_MARKUP = "/demo/data/<img src=y onerror=alert(3)>.dat"


def portal_config(url: str, issuer: str = "http://testserver") -> Config:
    """The transformation grid (production managers, an SQL catalog) on ``url``, every user with
    the tests' password, tokens issued by ``issuer``, the portal's login callback accepted."""
    text = TFS_GRID
    for user in USERS:
        text = text.replace(f'[registry.users.{user}]\nname = "{user}"',
                            f'[registry.users.{user}]\nname = "{user}"\npassword_hash = "{_HASH}"')
    text += (f'\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "{issuer}"\n'
             f'allowed_redirects = ["{callback_url(issuer)}"]\n')
    return load_config(text, format="toml")


def submit(iw: Interware, name: str, who: Identity, **jdl: Any) -> int:
    """Submit one job named ``name`` for ``who``; its id."""
    extra = "".join(f'{k} = "{v}";' for k, v in jdl.items())
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    [job] = iw.wms.submit(f'[Executable = "/bin/echo"; JobName = "{escaped}"; {extra}]', who)
    return job.job_id


def replication(iw: Interware, name: str, lfns: list[str]) -> int:
    """A Replication transformation by carol (demo_prod) holding ``lfns``; its id."""
    made = iw.transformations.create(TransformationSpec(name=name, type="Replication", plugin="Standard",
                                                        group_size=2, parameters={"TargetSE": "SE-B-disk"}),
                                     iw.identity("carol", "demo_prod"))
    iw.transformations.add_files(made.transformation_id, lfns).raise_for_failures()
    return made.transformation_id


def login(client: TestClient, user: str = "alice", group: str | None = None, *, password: str = PASSWORD,
          next_page: str | None = None) -> Any:
    """Log ``client`` in to the portal the way a browser does (olga in VO ``other``, everyone else in
    ``demo``); the callback's answer (or the login form's refusal)."""
    return portal_login(client, user=user, password=password, vo="other" if user == "olga" else "demo",
                        group=group, next_page=next_page)
