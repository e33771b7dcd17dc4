"""What a task becomes: a job from the JDL template, or a request from the request body.

**Jobs** (processing types): the transformation's body is a JDL template. Each task's job is the
template with ``JobName`` = the task name, ``JobGroup`` = the transformation id (``%08d``),
``InputData`` = the task's LFNs, DIRAC's ``PRODUCTION_ID``/``JOB_ID`` parameters, and ``Site`` =
the sites of the task's target SEs (:func:`destination`, DIRAC's ``BySE`` destination plugin,
intersected with a ``Site`` the template sets).

**Requests** (data types), by the body's form (DIRAC's ``RequestTasks``):

- ``""``: one ReplicateAndRegister to the task's target SEs;
- ``"<anything>;<OperationType>"``: one operation of that type, ``TargetSE`` the task's;
- a JSON list of ``[OperationType, {attribute: value}]``: one operation each (attributes
  ``TargetSE``, ``SourceSE``, ``Catalog``, ``Arguments``); a value ``"TASK:<key>"`` is the task's
  ``<key>`` (:data:`TASK_KEYS`, or a parameter of the transformation). Such a task needs files.

Every operation that works on files gets the task's files. :func:`check_body` refuses, when the
transformation is created, a body that could never make a valid job or request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dirac_core.errors import DiracError, InvalidTransformation
from dirac_core.jdl.description import JobDescription
from dirac_core.jdl.syntax import ClassAd, parse
from dirac_core.jdl.values import Bare
from dirac_core.rms.request import Operation, Request, RequestFile
from dirac_core.rms.validation import OperationType
from dirac_core.transformation.records import Task, Transformation

__all__ = ["OPERATION_ATTRIBUTES", "TASK_KEYS", "check_body", "destination", "job_for_task",
           "request_for_task", "template_sites"]

#: What ``"TASK:<key>"`` may name, besides the transformation's parameters.
TASK_KEYS = ("TargetSE", "InputData", "TaskID", "TaskName", "TransformationID")
#: Operation attributes a JSON body may set, and the :class:`Operation` field each sets.
OPERATION_ATTRIBUTES = {"TargetSE": "target_se", "SourceSE": "source_se", "Catalog": "catalogs",
                        "Arguments": "arguments"}
_SITES = re.compile(r"[,;]")


def _steps(body: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The operations a JSON body lists; None for the other forms. ``ValueError`` if malformed."""
    text = body.strip()
    if not text.startswith("["):
        return None
    items = json.loads(text)
    if not isinstance(items, list) or not items:
        raise ValueError("a JSON body is a non-empty list of [OperationType, {attribute: value}]")
    steps = []
    for index, item in enumerate(items):
        if (not isinstance(item, list | tuple) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], dict)):
            raise ValueError(f"operation {index}: expected [OperationType, {{attribute: value}}], "
                             f"got {item!r}")
        steps.append((item[0], dict(item[1])))
    return steps


def check_body(transformation_type: str, body: str, *, processing: bool, parameters: Collection[str],
               operation_types: Mapping[str, OperationType]) -> None:
    """Raise :class:`InvalidTransformation` when ``body`` cannot make this type's jobs or requests."""
    if processing:
        if not body.strip():
            raise InvalidTransformation(f"a {transformation_type} transformation needs a JDL template as "
                                        "its body", parameter="body")
        try:
            JobDescription.from_jdl(body)
        except DiracError as exc:
            raise InvalidTransformation(f"body: the JDL template is not a valid job: {exc}",
                                        parameter="body") from exc
        return
    try:
        steps = _steps(body)
    except ValueError as exc:
        raise InvalidTransformation(f"body: {exc}", parameter="body") from exc
    if steps is None:
        if body.strip() and ";" not in body:
            raise InvalidTransformation("body: a request body is '', '<anything>;<OperationType>' or a JSON "
                                        "list of [OperationType, {attribute: value}]", parameter="body")
        kinds = [body.rsplit(";", 1)[1].strip() if body.strip() else "ReplicateAndRegister"]
    else:
        kinds = [kind for kind, _ in steps]
        for kind, attributes in steps:
            _check_attributes(kind, attributes, parameters)
    for kind in kinds:
        if kind not in operation_types:
            raise InvalidTransformation(f"body: unknown operation type {kind!r}; known: "
                                        f"{', '.join(sorted(operation_types))}", parameter="body")


def _check_attributes(kind: str, attributes: Mapping[str, Any], parameters: Collection[str]) -> None:
    for name, value in attributes.items():
        if name not in OPERATION_ATTRIBUTES:
            raise InvalidTransformation(f"body: {kind}: unknown attribute {name!r}; known: "
                                        f"{', '.join(OPERATION_ATTRIBUTES)}", parameter="body")
        key = _task_key(value)
        if key is not None and key not in TASK_KEYS and key not in parameters:
            raise InvalidTransformation(f"body: {kind}.{name}: TASK:{key} names nothing a task has "
                                        f"({', '.join(TASK_KEYS)} or a parameter)", parameter="body")


def _task_key(value: object) -> str | None:
    return value[5:] if isinstance(value, str) and value.startswith("TASK:") else None


# -- jobs ------------------------------------------------------------------------------

def _drop(ad: ClassAd, name: str) -> None:
    for key in [k for k in ad if k.lower() == name.lower()]:
        del ad[key]


def template_sites(ad: ClassAd) -> tuple[str, ...]:
    """The sites a template's ``Site`` names (a list, or a string split on ``,`` and ``;``)."""
    value = next((v for k, v in ad.items() if k.lower() == "site"), None)
    items = value if isinstance(value, list) else [value] if value is not None else []
    names: list[str] = []
    for item in items:
        text = item.text if isinstance(item, Bare) else str(item)
        names.extend(s.strip() for s in _SITES.split(text) if s.strip())
    return tuple(n for n in names if n.upper() != "ANY")


def destination(sites: Sequence[str], target_ses: Sequence[str],
                se_sites: Mapping[str, Collection[str]]) -> list[str] | None:
    """The sites a task's job may run at: those of its target SEs, within ``sites`` (the template's)
    when given. None when the SEs say nothing (none, ``Unknown``, or an SE of no known site): the
    template's choice stands. ``InvalidTransformation`` when they exclude every site of ``sites``."""
    if not target_ses or any(se not in se_sites or not se_sites[se] for se in target_ses):
        return None
    near = {site for se in target_ses for site in se_sites[se]}
    if not sites:
        return sorted(near)
    chosen = [site for site in sites if site in near]
    if not chosen:
        raise InvalidTransformation(f"the target SEs {', '.join(target_ses)} are at "
                                    f"{', '.join(sorted(near))}, none of which the template's Site "
                                    f"({', '.join(sites)}) allows")
    return chosen


def job_for_task(template: ClassAd, transformation: Transformation, task: Task,
                 se_sites: Mapping[str, Collection[str]]) -> ClassAd:
    """The job description of ``task`` from the parsed template (left untouched)."""
    ad = dict(template)
    sites = destination(template_sites(template), task.target_ses, se_sites)
    for name in ("JobName", "JobGroup", "InputData", "PRODUCTION_ID", "JOB_ID"):
        _drop(ad, name)
    if sites:
        _drop(ad, "Site")
    ad["JobName"] = task.name
    ad["JobGroup"] = f"{transformation.transformation_id:08d}"
    ad["PRODUCTION_ID"] = f"{transformation.transformation_id:08d}"
    ad["JOB_ID"] = f"{task.task_id:08d}"
    if task.lfns:
        ad["InputData"] = list(task.lfns)
    if sites:
        ad["Site"] = list(sites)
    return ad


def parse_template(body: str) -> ClassAd:
    """The template as a ClassAd (checked at creation, so it parses)."""
    return parse(body)


# -- requests --------------------------------------------------------------------------

def _task_value(task: Task, transformation: Transformation, key: str) -> Any:
    own = {"TargetSE": ",".join(task.target_ses), "InputData": list(task.lfns), "TaskID": task.task_id,
           "TaskName": task.name, "TransformationID": transformation.transformation_id}
    if key in own:
        return own[key]
    if key in transformation.parameters:
        return transformation.parameters[key]
    raise InvalidTransformation(f"task {task.name}: TASK:{key} names nothing it has")


def request_for_task(transformation: Transformation, task: Task,
                     operation_types: Mapping[str, OperationType]) -> Request:
    """The request of ``task``, owned by the transformation's author; ``InvalidTransformation``
    when the body cannot make one for this task."""
    body = transformation.body
    steps = _steps(body)
    operations: list[Operation] = []
    if steps is None:
        kind = body.rsplit(";", 1)[1].strip() if body.strip() else "ReplicateAndRegister"
        steps = [(kind, {"TargetSE": ",".join(task.target_ses)})]
    elif not task.lfns:
        raise InvalidTransformation(f"task {task.name} has no input data, which a multi-operation body needs")
    for kind, attributes in steps:
        values: dict[str, Any] = {}
        for name, value in attributes.items():
            key = _task_key(value)
            values[OPERATION_ATTRIBUTES[name]] = _task_value(task, transformation, key) if key else value
        with_files = operation_types[kind].with_files if kind in operation_types else True
        operations.append(Operation(type=kind, files=[RequestFile(lfn=lfn) for lfn in task.lfns]
                                    if with_files else [], **values))
    return Request(name=task.name, owner=transformation.author, owner_group=transformation.author_group,
                   vo=transformation.vo, source="TransformationSystem", operations=operations)
