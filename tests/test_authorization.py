"""The authorization policy as one table: (identity, action, object) -> ok, 403 or 404.

``ok`` is allowed; ``403`` refused, and the caller may know the object exists; ``404`` refused
and answered as if the object did not exist. Every action and every property the policy reads
appear in the table; the search helpers are checked against the same rules.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from dirac_core.authorization import (
    Action,
    MatchScope,
    Owned,
    PilotRef,
    allowed,
    catalog_administers,
    filter_allowed,
    job_search_restrictions,
    match_scope,
    request_search_scope,
    require,
)
from dirac_core.config.registry import VO, Group, Property, Registry, User
from dirac_core.errors import PermissionDenied
from dirac_core.model.identity import Identity

_USERS = ("alice", "bob", "carol", "pilot", "admin", "olga")
REGISTRY = Registry(
    vos={"demo": VO(name="demo"), "other": VO(name="other")},
    users={u: User(name=u) for u in _USERS},
    groups={
        "demo_user": Group(name="demo_user", vo="demo", users=frozenset({"alice", "bob", "carol"})),
        "demo_shared": Group(name="demo_shared", vo="demo", users=frozenset({"alice", "bob"}),
                             job_sharing=True),
        "demo_pilot": Group(name="demo_pilot", vo="demo", users=frozenset({"pilot"})),
        "demo_admin": Group(name="demo_admin", vo="demo", users=frozenset({"admin"})),
        "other_user": Group(name="other_user", vo="other", users=frozenset({"olga"})),
    },
)


def _who(user: str, group: str, *properties: str, vo: str = "demo", stamp: str | None = None) -> Identity:
    return Identity(user=user, group=group, vo=vo, properties=set(properties), pilot_stamp=stamp)


P = Property
A = Action
#: the identities of the table, by name
WHO: dict[str, Identity] = {
    "alice": _who("alice", "demo_user", P.NORMAL_USER),
    "bob": _who("bob", "demo_user", P.NORMAL_USER),
    "bob_shared": _who("bob", "demo_shared", P.NORMAL_USER),  # the group's job_sharing flag
    "carol_sharing": _who("carol", "demo_user", P.NORMAL_USER, P.JOB_SHARING),  # the property
    "nobody": _who("carol", "demo_user"),
    "jobadmin": _who("admin", "demo_admin", P.JOB_ADMINISTRATOR),
    "monitor": _who("admin", "demo_admin", P.JOB_MONITOR),
    "pilot": _who("pilot", "demo_pilot", P.GENERIC_PILOT),  # a pilot user's token: the whole VO
    "pilot_s1": _who("pilot", "demo_pilot", P.GENERIC_PILOT, stamp="s1"),  # a pilot's own token
    "prod": _who("carol", "demo_prod", P.PRODUCTION_MANAGEMENT),
    "service": _who("admin", "demo_admin", P.SERVICE_ADMINISTRATOR),
    "operator": _who("admin", "demo_admin", P.OPERATOR),
    "fcm": _who("admin", "demo_admin", P.FILE_CATALOG_MANAGEMENT),
    "cs": _who("admin", "demo_admin", P.CS_ADMINISTRATOR),
    "stranger": _who("olga", "other_user", P.NORMAL_USER, P.JOB_ADMINISTRATOR, P.JOB_MONITOR,
                     P.SERVICE_ADMINISTRATOR, P.PRODUCTION_MANAGEMENT, P.FILE_CATALOG_MANAGEMENT, vo="other"),
}

#: the actions every identity may do (the catalog's modes and ACLs decide reads and writes)
OPEN = {A.SANDBOX_WRITE, A.CONFIG_READ, A.CATALOG_READ, A.CATALOG_WRITE}

#: the jobs pilot s1 holds
HELD = {1}

#: the objects of the table, by name
OBJ: dict[str, Any] = {
    "-": None,
    "alice_job": {"job_id": 1, "vo": "demo", "owner": "alice", "owner_group": "demo_user"},
    "bob_job": {"job_id": 2, "vo": "demo", "owner": "bob", "owner_group": "demo_user"},
    "alice_shared_job": {"job_id": 3, "vo": "demo", "owner": "alice", "owner_group": "demo_shared"},
    "carol_job": {"job_id": 4, "vo": "demo", "owner": "carol", "owner_group": "demo_user"},
    "other_job": {"job_id": 5, "vo": "other", "owner": "olga", "owner_group": "other_user"},
    "alice_box": {"pfn": "SB:x", "vo": "demo", "owner": "alice", "owner_group": "demo_user"},
    "shared_box": {"pfn": "SB:y", "vo": "demo", "owner": "alice", "owner_group": "demo_shared"},
    "alice_request": Owned(vo="demo", owner="alice", group="demo_user"),
    "other_request": Owned(vo="other", owner="olga"),
    "demo_tf": SimpleNamespace(vo="demo"),
    "other_tf": SimpleNamespace(vo="other"),
    "new_pilots": PilotRef(vo="demo"),
    "other_new_pilots": PilotRef(vo="other"),
    "s1": PilotRef(vo="demo", stamp="s1"),
    "s2": PilotRef(vo="demo", stamp="s2"),
    "other_pilot": PilotRef(vo="other", stamp="o1"),
    "demo_lfn": "/demo/user/a/alice/f",
    "demo_dir": "/demo",
    "other_lfn": "/other/data/f",
    "demolition_lfn": "/demolition/f",  # a VO name's prefix is not the VO's namespace
    "job_1": 1,
    "job_2": 2,
}

#: (identity, action, object, outcome)
TABLE: list[tuple[str, Action, str, str]] = [
    # --- submitting: NormalUser, or ProductionManagement (a production's jobs); not JobAdministrator
    ("alice", A.JOB_SUBMIT, "-", "ok"),
    ("prod", A.JOB_SUBMIT, "-", "ok"),
    ("jobadmin", A.JOB_SUBMIT, "-", "403"),
    ("pilot", A.JOB_SUBMIT, "-", "403"),
    ("pilot_s1", A.JOB_SUBMIT, "-", "403"),
    ("service", A.JOB_SUBMIT, "-", "403"),
    ("nobody", A.JOB_SUBMIT, "-", "403"),
    # --- reading a job: owner, sharing group, JobAdministrator, JobMonitor; others as if absent
    ("alice", A.JOB_READ, "alice_job", "ok"),
    ("bob", A.JOB_READ, "alice_job", "404"),
    ("nobody", A.JOB_READ, "carol_job", "ok"),  # owning needs no property
    ("bob_shared", A.JOB_READ, "alice_shared_job", "ok"),
    ("bob_shared", A.JOB_READ, "alice_job", "404"),  # sharing covers the group's jobs only
    ("bob_shared", A.JOB_READ, "bob_job", "404"),  # ... even the member's own of other groups
    ("carol_sharing", A.JOB_READ, "bob_job", "ok"),  # JobSharing: the jobs of demo_user
    ("carol_sharing", A.JOB_READ, "alice_shared_job", "404"),
    ("jobadmin", A.JOB_READ, "bob_job", "ok"),
    ("jobadmin", A.JOB_READ, "other_job", "404"),
    ("monitor", A.JOB_READ, "bob_job", "ok"),
    ("monitor", A.JOB_READ, "other_job", "404"),
    ("pilot", A.JOB_READ, "alice_job", "404"),
    ("pilot_s1", A.JOB_READ, "alice_job", "404"),
    ("stranger", A.JOB_READ, "alice_job", "404"),
    ("stranger", A.JOB_READ, "other_job", "ok"),
    # --- managing (kill, delete, reschedule)
    ("alice", A.JOB_MANAGE, "alice_job", "ok"),
    ("bob", A.JOB_MANAGE, "alice_job", "404"),
    ("bob_shared", A.JOB_MANAGE, "alice_shared_job", "ok"),
    ("jobadmin", A.JOB_MANAGE, "bob_job", "ok"),
    ("monitor", A.JOB_MANAGE, "bob_job", "403"),  # it reads the job: told, not misled
    ("pilot", A.JOB_MANAGE, "alice_job", "404"),
    ("stranger", A.JOB_MANAGE, "alice_job", "404"),
    # --- updating (status, heartbeat, parameters)
    ("alice", A.JOB_UPDATE, "alice_job", "ok"),
    ("bob", A.JOB_UPDATE, "alice_job", "404"),
    ("jobadmin", A.JOB_UPDATE, "alice_job", "ok"),
    ("pilot", A.JOB_UPDATE, "bob_job", "ok"),
    ("pilot", A.JOB_UPDATE, "other_job", "404"),
    ("pilot_s1", A.JOB_UPDATE, "alice_job", "ok"),  # it holds job 1
    ("pilot_s1", A.JOB_UPDATE, "bob_job", "403"),  # not job 2
    ("pilot_s1", A.JOB_UPDATE, "other_job", "404"),
    ("monitor", A.JOB_UPDATE, "alice_job", "403"),
    # --- forcing a status, matching
    ("jobadmin", A.JOB_FORCE, "-", "ok"),
    ("alice", A.JOB_FORCE, "-", "403"),
    ("pilot", A.JOB_FORCE, "-", "403"),
    ("pilot", A.JOB_MATCH, "-", "ok"),
    ("pilot_s1", A.JOB_MATCH, "-", "ok"),
    ("jobadmin", A.JOB_MATCH, "-", "ok"),
    ("alice", A.JOB_MATCH, "-", "403"),
    ("service", A.JOB_MATCH, "-", "403"),
    # --- a pilot acting as the owner of a job it holds (X-Dirac-Job)
    ("pilot_s1", A.JOB_ACT_FOR, "job_1", "ok"),
    ("pilot_s1", A.JOB_ACT_FOR, "job_2", "403"),
    ("pilot_s1", A.JOB_ACT_FOR, "alice_job", "ok"),
    ("pilot", A.JOB_ACT_FOR, "job_1", "403"),  # a pilot user's token holds no job
    ("alice", A.JOB_ACT_FOR, "job_1", "403"),
    ("jobadmin", A.JOB_ACT_FOR, "job_1", "403"),
    # --- pilots
    ("pilot", A.PILOT_REGISTER, "new_pilots", "ok"),
    ("service", A.PILOT_REGISTER, "new_pilots", "ok"),
    ("pilot", A.PILOT_REGISTER, "other_new_pilots", "403"),
    ("alice", A.PILOT_REGISTER, "-", "403"),
    ("jobadmin", A.PILOT_REGISTER, "-", "403"),
    ("pilot", A.PILOT_REPORT, "s2", "ok"),
    ("pilot_s1", A.PILOT_REPORT, "s1", "ok"),
    ("pilot_s1", A.PILOT_REPORT, "s2", "404"),  # on itself only
    ("service", A.PILOT_REPORT, "other_pilot", "404"),
    ("alice", A.PILOT_REPORT, "s1", "403"),
    ("service", A.PILOT_READ, "s1", "ok"),
    ("jobadmin", A.PILOT_READ, "s1", "ok"),
    ("operator", A.PILOT_READ, "s1", "ok"),
    ("operator", A.PILOT_READ, "other_pilot", "404"),
    ("pilot", A.PILOT_READ, "-", "403"),
    ("alice", A.PILOT_READ, "-", "403"),
    # --- sandboxes: anyone uploads; using one is reading a job of the same owner and group
    ("nobody", A.SANDBOX_WRITE, "-", "ok"),
    ("pilot_s1", A.SANDBOX_WRITE, "-", "ok"),
    ("alice", A.SANDBOX_READ, "alice_box", "ok"),
    ("bob", A.SANDBOX_READ, "alice_box", "404"),
    ("bob_shared", A.SANDBOX_READ, "shared_box", "ok"),
    ("jobadmin", A.SANDBOX_READ, "alice_box", "ok"),
    ("pilot", A.SANDBOX_READ, "alice_box", "404"),
    ("stranger", A.SANDBOX_READ, "alice_box", "404"),
    # --- requests
    ("nobody", A.REQUEST_SUBMIT, "-", "ok"),
    ("alice", A.REQUEST_SUBMIT, "alice_job", "ok"),
    ("bob", A.REQUEST_SUBMIT, "alice_job", "404"),
    ("jobadmin", A.REQUEST_SUBMIT, "alice_job", "404"),  # attached to one's own jobs only
    ("alice", A.REQUEST_READ, "alice_request", "ok"),
    ("bob", A.REQUEST_READ, "alice_request", "404"),
    ("service", A.REQUEST_READ, "alice_request", "ok"),
    ("jobadmin", A.REQUEST_READ, "alice_request", "ok"),
    ("stranger", A.REQUEST_READ, "alice_request", "404"),
    ("stranger", A.REQUEST_READ, "other_request", "ok"),
    ("alice", A.REQUEST_CANCEL, "alice_request", "ok"),
    ("bob", A.REQUEST_CANCEL, "alice_request", "404"),
    ("service", A.REQUEST_CANCEL, "alice_request", "ok"),
    ("monitor", A.REQUEST_CANCEL, "alice_request", "404"),
    # --- transformations: the VO reads; ProductionManagement creates; it or ServiceAdministrator changes
    ("nobody", A.TRANSFORMATION_READ, "demo_tf", "ok"),
    ("pilot", A.TRANSFORMATION_READ, "demo_tf", "ok"),
    ("stranger", A.TRANSFORMATION_READ, "demo_tf", "404"),
    ("prod", A.TRANSFORMATION_CREATE, "-", "ok"),
    ("service", A.TRANSFORMATION_CREATE, "-", "403"),  # its identity could not submit the tasks
    ("alice", A.TRANSFORMATION_CREATE, "-", "403"),
    ("jobadmin", A.TRANSFORMATION_CREATE, "-", "403"),
    ("prod", A.TRANSFORMATION_CHANGE, "demo_tf", "ok"),
    ("service", A.TRANSFORMATION_CHANGE, "demo_tf", "ok"),
    ("alice", A.TRANSFORMATION_CHANGE, "demo_tf", "403"),
    ("stranger", A.TRANSFORMATION_CHANGE, "demo_tf", "404"),
    # --- productions: the same rules
    ("alice", A.PRODUCTION_READ, "demo_tf", "ok"),
    ("stranger", A.PRODUCTION_READ, "demo_tf", "404"),
    ("prod", A.PRODUCTION_CREATE, "-", "ok"),
    ("service", A.PRODUCTION_CREATE, "-", "403"),
    ("alice", A.PRODUCTION_CREATE, "-", "403"),
    ("prod", A.PRODUCTION_CHANGE, "demo_tf", "ok"),
    ("service", A.PRODUCTION_CHANGE, "demo_tf", "ok"),
    ("alice", A.PRODUCTION_CHANGE, "demo_tf", "403"),
    ("stranger", A.PRODUCTION_CHANGE, "demo_tf", "404"),
    # --- catalog: the property part (modes and ACLs are the catalog's own policy)
    ("fcm", A.CATALOG_ADMIN, "-", "ok"),  # metadata fields, usage: the whole catalog
    ("stranger", A.CATALOG_ADMIN, "-", "ok"),
    ("fcm", A.CATALOG_ADMIN, "demo_lfn", "ok"),
    ("fcm", A.CATALOG_ADMIN, "demo_dir", "ok"),
    ("fcm", A.CATALOG_ADMIN, "other_lfn", "403"),  # another VO's namespace
    ("fcm", A.CATALOG_ADMIN, "demolition_lfn", "403"),
    ("stranger", A.CATALOG_ADMIN, "demo_lfn", "403"),
    ("alice", A.CATALOG_ADMIN, "-", "403"),
    ("service", A.CATALOG_ADMIN, "demo_lfn", "403"),
    ("alice", A.CATALOG_READ, "demo_lfn", "ok"),
    ("alice", A.CATALOG_WRITE, "demo_lfn", "ok"),
    ("stranger", A.CATALOG_WRITE, "demo_lfn", "ok"),
    ("fcm", A.CATALOG_WRITE, "other_lfn", "ok"),
    # --- configuration and server
    ("nobody", A.CONFIG_READ, "-", "ok"),
    ("pilot_s1", A.CONFIG_READ, "-", "ok"),
    ("cs", A.CONFIG_READ_SECRETS, "-", "ok"),
    ("service", A.CONFIG_READ_SECRETS, "-", "403"),
    ("alice", A.CONFIG_READ_SECRETS, "-", "403"),
    ("jobadmin", A.CONFIG_READ_SECRETS, "-", "403"),
    ("service", A.SERVER_ADMIN, "-", "ok"),
    ("jobadmin", A.SERVER_ADMIN, "-", "403"),
    ("cs", A.SERVER_ADMIN, "-", "403"),
    # --- resource statuses
    ("service", A.STATUS_CHANGE, "-", "ok"),
    ("operator", A.STATUS_CHANGE, "-", "ok"),
    ("alice", A.STATUS_CHANGE, "-", "403"),
]


def _outcome(who: str, action: Action, obj: str) -> str:
    decision = allowed(WHO[who], action, OBJ[obj], registry=REGISTRY, held=HELD)
    assert decision.reason, "every decision says why"
    if decision.allowed:
        return "ok"
    return "403" if decision.visible else "404"


@pytest.mark.parametrize(("who", "action", "obj", "outcome"), TABLE,
                         ids=[f"{w}-{a}-{o}" for w, a, o, _ in TABLE])
def test_the_table(who: str, action: Action, obj: str, outcome: str) -> None:
    assert _outcome(who, action, obj) == outcome


def test_the_table_covers_every_action_and_property() -> None:
    assert {action for _, action, _, _ in TABLE} == set(Action)
    for action in Action:  # each action is granted somewhere, and refused unless open to all
        outcomes = {outcome for _, a, _, outcome in TABLE if a is action}
        assert "ok" in outcomes, action
        assert bool(outcomes - {"ok"}) is (action not in OPEN), action
    granted = {p for who, _, _, outcome in TABLE if outcome == "ok" for p in WHO[who].properties}
    assert granted >= {P.NORMAL_USER, P.GENERIC_PILOT, P.JOB_ADMINISTRATOR, P.JOB_MONITOR, P.JOB_SHARING,
                       P.PRODUCTION_MANAGEMENT, P.SERVICE_ADMINISTRATOR, P.OPERATOR,
                       P.FILE_CATALOG_MANAGEMENT, P.CS_ADMINISTRATOR}
    assert {who for who, *_ in TABLE} == set(WHO)


def test_refusals_name_what_is_missing() -> None:
    assert "needs NormalUser or ProductionManagement" in allowed(WHO["pilot"], A.JOB_SUBMIT).reason
    assert "needs JobAdministrator" in allowed(WHO["alice"], A.JOB_FORCE).reason
    assert "needs GenericPilot" in allowed(WHO["alice"], A.JOB_MATCH).reason
    assert "not held by pilot s1" in allowed(WHO["pilot_s1"], A.JOB_UPDATE, OBJ["bob_job"], held=HELD).reason
    assert "needs ProductionManagement)" in allowed(WHO["service"], A.TRANSFORMATION_CREATE).reason
    assert "needs CSAdministrator" in allowed(WHO["service"], A.CONFIG_READ_SECRETS).reason
    with pytest.raises(PermissionDenied, match="may not create productions") as refused:
        require(WHO["alice"], A.PRODUCTION_CREATE)
    assert refused.value.fields == {"user": "alice", "group": "demo_user", "action": "production.create"}
    assert require(WHO["prod"], A.PRODUCTION_CREATE).allowed


def test_without_a_registry_only_the_property_shares() -> None:
    shared_job = OBJ["alice_shared_job"]
    assert not allowed(WHO["bob_shared"], A.JOB_READ, shared_job)  # the group's flag is unknown
    assert allowed(WHO["bob_shared"], A.JOB_READ, shared_job, registry=REGISTRY)
    assert allowed(WHO["carol_sharing"], A.JOB_READ, OBJ["bob_job"])


def test_a_pilots_own_token_updates_nothing_when_its_jobs_are_unknown() -> None:
    refused = allowed(WHO["pilot_s1"], A.JOB_UPDATE, OBJ["alice_job"])  # no ``held``
    assert not refused and refused.visible
    assert not allowed(WHO["pilot_s1"], A.JOB_ACT_FOR, 1)


@pytest.mark.parametrize("action", [A.JOB_READ, A.JOB_UPDATE, A.SANDBOX_READ, A.REQUEST_READ,
                                    A.TRANSFORMATION_READ, A.PRODUCTION_CHANGE])
def test_an_action_on_an_object_needs_the_object(action: Action) -> None:
    with pytest.raises(TypeError, match="pass it"):
        allowed(WHO["alice"], action)


def _job_search(identity: Identity, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    filters, owner = job_search_restrictions(identity, REGISTRY)
    column = {"VO": "vo", "OwnerGroup": "owner_group"}
    assert all(f["operator"] == "eq" for f in filters)
    return [row for row in rows if all(row[column[f["parameter"]]] == f["value"] for f in filters)
            and owner in (None, row["owner"])]


@pytest.mark.parametrize("who", sorted(WHO))
def test_searches_show_exactly_what_may_be_read(who: str) -> None:
    identity = WHO[who]
    jobs = [v for k, v in OBJ.items() if k.endswith("_job")]
    assert _job_search(identity, jobs) == filter_allowed(identity, A.JOB_READ, jobs, registry=REGISTRY)
    requests = [OBJ["alice_request"], OBJ["other_request"], Owned(vo="demo", owner="bob")]
    owner, vo = request_search_scope(identity)
    listed = [r for r in requests if r.vo == vo and owner in (None, r.owner)]
    assert listed == filter_allowed(identity, A.REQUEST_READ, requests)


def test_match_scope() -> None:
    demo_groups = frozenset({"demo_user", "demo_shared", "demo_pilot", "demo_admin"})
    assert match_scope(WHO["pilot"], REGISTRY) == MatchScope(demo_groups, None, whole_vo=True)
    assert match_scope(WHO["pilot_s1"], REGISTRY).whole_vo
    assert match_scope(WHO["alice"], REGISTRY) == MatchScope(frozenset({"demo_user"}), "alice",
                                                             whole_vo=False)
    assert match_scope(WHO["bob_shared"], REGISTRY) == MatchScope(frozenset({"demo_shared"}), None,
                                                                  whole_vo=False)


def test_catalog_administers() -> None:
    assert catalog_administers(WHO["fcm"]) and catalog_administers(WHO["fcm"], "/demo/x")
    assert not catalog_administers(WHO["fcm"], "/other/x")
    assert not catalog_administers(WHO["alice"], "/demo/user/a/alice")
