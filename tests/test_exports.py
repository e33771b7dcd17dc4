"""The public API is pinned: changing it must be a deliberate edit of this list."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = {
    "dirac_core": [
        "BulkResult", "Clock", "Config", "Database", "DiracError", "FakeClock", "Interware",
        "SystemClock", "__version__", "load_config", "load_dirac_cfg",
    ],
    "dirac_core.accounting": [
        "KINDS", "SOURCES", "Accounting", "Aggregation", "Chart", "DataOperationRecord", "InvalidReport",
        "JobRecord", "PilotRecord", "RecordType", "Report", "ReportKind", "TimeBin", "choose_bin",
    ],
    "dirac_core.authorization": [
        "Action", "Decision", "InVO", "MatchScope", "Owned", "PilotRef", "allowed", "catalog_administers",
        "filter_allowed", "job_search_restrictions", "match_scope", "request_search_scope", "require",
    ],
    "dirac_core.jdl": [
        "Bare", "ClassAd", "Job", "JobDescription", "Value", "dump", "dumps", "expand", "from_classad",
        "loads", "parameter_count", "parse", "substitute_job_id",
    ],
    "dirac_core.model": [
        "FINAL_JOB_STATUSES", "JOB_TRANSITIONS", "PILOT_TRANSITIONS", "Clock", "FakeClock", "Identity",
        "JobStatus", "PilotStatus", "SystemClock", "TransitionTable",
        "check_transition", "ensure_utc", "make_table", "new_uuid", "reachable", "uuid_time",
    ],
    "dirac_core.plugins": [
        "DRIVER_GROUPS", "CEStatus", "Catalog", "ComputingElement", "FileEntry", "FileStat", "PluginGroup",
        "StorageProtocol", "available", "free_slots", "hookimpl", "hookspec", "import_backend",
        "load_driver", "make_plugin_manager",
    ],
    "dirac_core.wms": [
        "JobCommand", "JobRequirements", "JobState", "MatchedJob", "ResourceDescription",
        "StatusUpdate", "SubmittedJob", "WorkloadManager",
    ],
    "dirac_core.messaging": [
        "SCHEMA_VERSION", "DiskBuffer", "MessageKind", "Messaging", "MessagingHooks", "Publisher",
        "PublisherStats", "start_messaging",
    ],
    "dirac_core.rss": [
        "ALL", "POLICY_OWNER", "CalendarError", "Downtime", "DowntimeCalendar", "Element",
        "ElementEvaluation", "ElementKey", "ElementType", "EvaluationReport", "EvaluationTask", "ExpiryTask",
        "HistoryEntry", "PolicyOutcome", "ResourceStatus", "ResourceStatusSystem", "Severity", "StatusRecord",
        "StatusType", "TestTransferTask", "TransferTest", "combine", "next_status", "parse_calendar",
        "rss_tasks",
    ],
    "dirac_core.testing": ["FakeClock", "MemoryCatalog", "MemoryComputingElement", "MemoryStorage"],
    "dirac_core.transformation": [
        "CleaningResult", "CleaningTask", "ExtensionResult", "ExtensionTask", "InputQueryTask", "MonitorTask",
        "ReservationTask", "SplitResult", "SplitTask", "SubmitResult", "SubmitTask", "Task", "Transformation",
        "TransformationFile", "TransformationSettings",
        "TransformationSpec", "TransformationStats", "TransformationSystem", "transformation_tasks",
    ],
    "dirac_core.auth": [
        "AuthManager", "DeviceFlowError", "DeviceFlows", "DeviceStart", "InvalidScope", "KeyStore",
        "Scope", "TokenPair", "TokenService", "hash_password", "parse_scope", "resolve",
        "verify_password",
    ],
    "dirac_core.client": [
        "Credentials", "RemoteCatalog", "RemoteError", "RemoteInterware", "RemoteWMS", "RetryPolicy",
        "ServerUnreachable", "Transport",
    ],
    "dirac_server": ["ServerSettings", "create_app"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exports_are_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ == PUBLIC[module]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_export_exists_and_is_documented(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert getattr(obj, "__doc__", None), f"{module}.{name} has no docstring"


def test_errors_module_exports() -> None:
    from dirac_core import errors

    assert errors.__all__ == sorted(errors.__all__)
    assert "DiracError" in errors.__all__ and "BulkResult" in errors.__all__
