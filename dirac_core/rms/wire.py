"""Requests as JSON: what the server and the remote client exchange.

Keys are the attribute names of :class:`~dirac_core.rms.request.Request`,
:class:`~dirac_core.rms.request.Operation` and
:class:`~dirac_core.rms.request.RequestFile`; statuses are their values, times ISO 8601 with
their zone. :func:`request_from_json` turns any malformed document (a missing name, a bad
status, an invalid LFN, an unknown key) into :class:`~dirac_core.errors.InvalidRequest` naming
the key.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from dirac_core.errors import InvalidRequest
from dirac_core.model.clock import ensure_utc
from dirac_core.rms.request import Operation, Request, RequestFile
from dirac_core.rms.store import RequestSummary

__all__ = ["request_from_json", "request_to_json", "summary_from_json", "summary_to_json"]

_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
_converter.register_structure_hook(datetime, lambda v, _: ensure_utc(datetime.fromisoformat(v)))
_converter.register_unstructure_hook(tuple, list)
_converter.register_unstructure_hook(StrEnum, lambda member: member.value)
for _cls in (RequestFile, Operation, Request, RequestSummary):
    attrs.resolve_types(_cls)  # the annotations are strings (postponed evaluation)
    _converter.register_structure_hook(_cls, make_dict_structure_fn(_cls, _converter,
                                                                    _cattrs_forbid_extra_keys=True))


def request_to_json(request: Request) -> dict[str, Any]:
    """``request`` as a JSON-ready dict."""
    data: dict[str, Any] = _converter.unstructure(request)
    return data


def request_from_json(data: Any) -> Request:
    """The request a JSON document describes; :class:`InvalidRequest` saying what is wrong."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"a request is a JSON object, not {type(data).__name__}")
    try:
        return _converter.structure(data, Request)
    except cattrs.BaseValidationError as exc:
        reasons = "; ".join(cattrs.transform_error(exc, path="request"))
        raise InvalidRequest(f"malformed request: {reasons}") from None
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"malformed request: {exc}") from None


def summary_to_json(summary: RequestSummary) -> dict[str, Any]:
    """A request summary as a JSON-ready dict."""
    data: dict[str, Any] = _converter.unstructure(summary)
    return data


def summary_from_json(data: Any) -> RequestSummary:
    """The summary a JSON document describes; :class:`InvalidRequest` when it is malformed."""
    try:
        return _converter.structure(data, RequestSummary)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"malformed request summary: {exc}") from None
