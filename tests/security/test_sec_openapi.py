"""Schemathesis over the server's own OpenAPI document: no 500, no answer outside its schema.

Every operation gets generated requests (valid ones, and invalid bodies, parameters and path
values) sent through the ASGI app with a real access token of a normal user (alice), on every
backend: a string too long for a column or a number too big for it is an error on MariaDB and
PostgreSQL, not on SQLite. Hypothesis runs derandomized with a few examples per operation, so a
run sends the same requests every time and takes well under a minute per backend.

Schemathesis's pytest integration is not used (its lazy fixtures do not work with pytest 9): the
operations are walked here, each with its own Hypothesis run, and every failure is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import response_schema_conformance
from sec_helpers import bearer

from dirac_core.interware import Interware
from dirac_server import ServerSettings, create_app

#: examples per operation and generation mode (about 80 operations)
EXAMPLES = 10
_RUN = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture
def api_schema(iw: Interware, tmp_path: Path) -> BaseSchema:
    """The app's OpenAPI schema, its requests sent to the app itself (no socket)."""
    app = create_app(iw, ServerSettings(sandbox_dir=str(tmp_path / "store"), max_body_bytes=256 * 1024))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _strategy(operation: APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


def _fuzz(operation: APIOperation, headers: dict[str, str]) -> Callable[[], None]:
    @_RUN
    @given(case=_strategy(operation))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])
    return run


def test_no_server_error_and_answers_match_the_schema(api_schema: BaseSchema, iw: Interware) -> None:
    headers = bearer(iw.auth.issue("alice", vo="demo")[1].access_token)
    failures: dict[str, str] = {}
    tested = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tested += 1
        try:
            _fuzz(operation, headers)()
        except Exception as exc:
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert tested > 60
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
