"""Shared values of the WMS tests: the test grid, identities, resources."""

from __future__ import annotations

from dirac_core.model.identity import Identity

GRID = """
[registry.vos.demo]
name = "demo"
default_group = "demo_user"

[registry.users.alice]
name = "alice"
[registry.users.bob]
name = "bob"
[registry.users.carol]
name = "carol"
[registry.users.pilot]
name = "pilot"
[registry.users.admin]
name = "admin"

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = ["alice", "bob", "carol"]
properties = ["NormalUser"]

[registry.groups.demo_shared]
name = "demo_shared"
vo = "demo"
users = ["alice", "bob"]
properties = ["NormalUser"]
job_sharing = true
job_share = 500

[registry.groups.demo_pilot]
name = "demo_pilot"
vo = "demo"
users = ["pilot"]
properties = ["GenericPilot"]

[registry.groups.demo_admin]
name = "demo_admin"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "JobAdministrator"]

[resources]
site_mask = ["DIRAC.A.ch", "DIRAC.B.fr"]

[resources.os_compatibility]
el9 = ["el9", "el8"]
el8 = ["el8"]

[resources.sites.DIRAC."DIRAC.A.ch"]
name = "DIRAC.A.ch"
ses = ["SE-A"]

[resources.sites.DIRAC."DIRAC.B.fr"]
name = "DIRAC.B.fr"
ses = ["SE-B-disk", "SE-B-tape"]

[resources.sites.DIRAC."DIRAC.C.it"]
name = "DIRAC.C.it"

[resources.storage_elements.SE-A]
name = "SE-A"
[resources.storage_elements.SE-B-disk]
name = "SE-B-disk"
[resources.storage_elements.SE-B-tape]
name = "SE-B-tape"
medium = "tape"

[operations.defaults]
max_parametric_jobs = 50

[operations.defaults.running_limits."DIRAC.A.ch".JobType]
Hospital = 2

[operations.defaults.matching_delays."DIRAC.B.fr".Owner]
carol = 60
"""


def who(user: str = "alice", group: str = "demo_user", *props: str) -> Identity:
    """An identity in VO demo with NormalUser (and ``props``)."""
    return Identity(user=user, group=group, vo="demo", properties={"NormalUser", *props})


PILOT = Identity(user="pilot", group="demo_pilot", vo="demo", properties={"GenericPilot"})
ADMIN = Identity(user="admin", group="demo_admin", vo="demo",
                 properties={"NormalUser", "JobAdministrator"})


def resource(site: str = "DIRAC.A.ch", **extra: object) -> dict[str, object]:
    """A pilot's resource description at ``site`` with plenty of CPU time."""
    return {"Site": site, "CPUTime": 1_000_000, **extra}
