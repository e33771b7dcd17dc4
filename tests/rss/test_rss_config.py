"""``[resource_status]``: policies per element type, periods; the policy drivers and their parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from rss_helpers import grid_config, make_system, policy

from dirac_core.config import load_config
from dirac_core.config.resource_status import DEFAULT_POLICIES
from dirac_core.db import Database
from dirac_core.errors import ConfigError, PluginNotFound
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import ResourceStatus
from dirac_core.plugins import PluginGroup, available, load_driver
from dirac_core.plugins.policies import Policy


def test_every_built_in_policy_is_a_driver() -> None:
    names = available(PluginGroup.POLICIES)
    assert {"AlwaysActive", "AlwaysBanned", "DowntimeOngoing", "DowntimeScheduled", "PilotEfficiency",
            "JobEfficiency", "FreeSpace", "SETestTransfer", "Propagation"} <= set(names)
    for name in names:
        driver = load_driver(PluginGroup.POLICIES, name)
        assert issubclass(driver, Policy) and driver.__doc__, name
        driver({}).close()  # default parameters are valid
    assert {p.type for p in DEFAULT_POLICIES} <= set(names)


def test_the_section(tmp_path: Path) -> None:
    config = grid_config(tmp_path, "periods = { Banned = 60 }\ncache = 5\n" + policy(
        "FreeSpace", "StorageElement", name="FreeSpaceTB", status_types=["WriteAccess"],
        parameters={"unit": "TB", "degraded_below": 2}))
    settings = config.resource_status
    periods = (settings.period(ResourceStatus.BANNED), settings.period(ResourceStatus.ACTIVE))
    assert (*periods, settings.cache) == (60, 1200, 5)
    [only] = settings.policies
    assert (only.label, only.element_types, only.status_types, only.parameters) == (
        "FreeSpaceTB", {"StorageElement"}, {"WriteAccess"}, {"unit": "TB", "degraded_below": 2})
    assert grid_config(tmp_path).resource_status.policies == DEFAULT_POLICIES
    assert grid_config(tmp_path, "policies = []\n").resource_status.policies == ()


def test_mistakes_are_named_by_their_path() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("""
[resource_status]
periods = { Bannd = 60 }
[[resource_status.policies]]
type = "AlwaysBanned"
element_types = ["Sites"]
status_types = ["Write"]
""", format="toml")
    text = str(info.value)
    assert "resource_status.periods.Bannd: expected one of Unknown, Active" in text
    assert "unknown ElementType ['Sites']" in text
    with pytest.raises(ConfigError, match=r"periods.Active: a period is a number of seconds >= 1, not 0"):
        load_config("[resource_status]\nperiods = { Active = 0 }\n", format="toml")
    with pytest.raises(ConfigError, match=r"resource_status.evaluation_interval: .*>= 1"):
        load_config("[resource_status]\nevaluation_interval = 0\n", format="toml")


def test_policies_are_checked(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    # a type not installed: when the engine is built
    with pytest.raises(PluginNotFound, match=r"no plugin 'NoSuchPolicy' in group 'dirac\.policies'"):
        make_system(database, fake_clock, tmp_path, policy("NoSuchPolicy", "Site"))
    # a bad parameter: when the policies are first used (building an interware imports none)
    for extra, error in [
        (policy("PilotEfficiency", "Queue", parameters={"banned_below": "half"}),
         "'banned_below' must be a number >= 0, not 'half'"),
        (policy("FreeSpace", "StorageElement", parameters={"unit": "PB"}),
         "'unit' must be one of TB, GB, MB"),
        (policy("Propagation", "Site", parameters={"element_types": ["Rack"]}),
         "'Rack' is not a valid ElementType"),
    ]:
        system = make_system(database, fake_clock, tmp_path, extra)
        with pytest.raises(ValueError, match=error):
            system.evaluate()


def test_without_policies_nothing_is_evaluated(database: Database, fake_clock: FakeClock,
        tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, "policies = []\n")
    report = system.evaluate(force=True)
    assert (report.evaluated, report.skipped, system.statuses()) == ([], {}, [])
