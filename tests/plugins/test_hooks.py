from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from pluggy import PluginValidationError

from dirac_core.plugins import hookimpl, make_plugin_manager


class Refuser:
    @hookimpl
    def dirac_validate_job(self, description: dict[str, Any]) -> list[str]:
        return ["no CPU time"] if "CPUTime" not in description else []


class SiteRule:
    @hookimpl
    def dirac_validate_job(self, description: dict[str, Any], vo: str) -> list[str]:
        return [f"{vo} may not run at X"] if description.get("Site") == "X" else []


def test_all_validation_hooks_are_called() -> None:
    pm = make_plugin_manager([Refuser(), SiteRule()], entry_points=False)
    problems = pm.hook.dirac_validate_job(description={"Site": "X"}, owner="u", group="g", vo="lhcb")
    assert sorted(p for ps in problems for p in ps) == ["lhcb may not run at X", "no CPU time"]


def test_firstresult_priority_hook() -> None:
    class Bump:
        @hookimpl
        def dirac_match_priority(self, priority: float) -> float:
            return priority * 2

    pm = make_plugin_manager([Bump()], entry_points=False)
    assert pm.hook.dirac_match_priority(job={}, resource={}, priority=3.0) == 6.0


def test_typo_in_hook_name_fails_at_start_up() -> None:
    class Typo:
        @hookimpl
        def dirac_validate_jobs(self) -> list[str]:
            return []

    with pytest.raises(PluginValidationError, match="dirac_validate_jobs"):
        make_plugin_manager([Typo()], entry_points=False)


def test_wrong_argument_name_fails_at_registration() -> None:
    class BadArgs:
        @hookimpl
        def dirac_validate_job(self, jdl: str) -> list[str]:
            return []

    with pytest.raises(PluginValidationError, match="jdl"):
        make_plugin_manager([BadArgs()], entry_points=False)


def test_periodic_task_wrapper_sees_result_and_failure() -> None:
    seen: list[tuple[str, object]] = []

    class Tracer:
        @hookimpl(wrapper=True)
        def dirac_periodic_task(self, name: str) -> Generator[None, Any, Any]:
            try:
                result = yield
            except ValueError as exc:
                seen.append((name, exc))
                raise
            seen.append((name, result))
            return result

    pm = make_plugin_manager([Tracer()], entry_points=False)
    caller = pm.hook.dirac_periodic_task
    assert caller.call_extra([lambda name: 42], {"name": "answer"}) == 42

    def fail(name: str) -> None:
        raise ValueError("cycle failed")

    with pytest.raises(ValueError, match="cycle failed"):
        caller.call_extra([fail], {"name": "broken"})
    assert seen[0] == ("answer", 42)
    assert seen[1][0] == "broken" and isinstance(seen[1][1], ValueError)
