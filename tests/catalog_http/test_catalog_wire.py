"""The catalog's wire format: values, errors and bulk results come back as they left."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from dirac_core.dms import catalog_wire as wire
from dirac_core.dms.metaquery import QueryError
from dirac_core.errors import BulkResult, CatalogError, ConfigError, DiracError, NotFound, PermissionDenied
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins.catalog import DirectoryListing, FileEntry
from dirac_core.plugins.metadata import DatasetInfo, MetadataField
from dirac_server.routes.catalog import NoCatalog


def _trip(exc: DiracError) -> DiracError:
    return wire.error(wire.error_json(exc))


def test_values_keep_their_times() -> None:
    given = {"taken": datetime(2024, 5, 1, 12, tzinfo=UTC), "day": date(2024, 5, 2),
             "in": (1, 2), "ses": frozenset({"B", "A"}), "n": 1.5, "none": None}
    sent = wire.value_json(given)
    assert sent["taken"] == {"$datetime": "2024-05-01T12:00:00+00:00"}
    assert sent["day"] == {"$date": "2024-05-02"}
    assert sent["ses"] == ["A", "B"]
    back = wire.value(sent)
    assert back["taken"] == given["taken"] and type(back["day"]) is date
    assert back == {**given, "in": [1, 2], "ses": ["A", "B"]}


def test_errors_keep_class_message_fields_and_notes() -> None:
    denied = PermissionDenied("no", lfn="/vo/a", user="bob", when=datetime(2024, 1, 1, tzinfo=UTC))
    denied.add_note("also failed in catalog X")
    back = _trip(denied)
    assert type(back) is PermissionDenied and str(back) == "no"
    assert back.fields == denied.fields and back.user == "bob"  # type: ignore[attr-defined]
    assert back.__notes__ == ["also failed in catalog X"]
    for exc in (InvalidLFN("bad", lfn="x"), QueryError("q", field="f", known=["a"]), NotFound("n")):
        assert type(_trip(exc)) is type(exc)


def test_errors_with_their_own_constructor_and_unknown_ones() -> None:
    config = _trip(ConfigError([("a.b", "wrong")]))
    assert type(config) is ConfigError and "a.b: wrong" in str(config)
    assert type(_trip(NoCatalog("none here"))) is CatalogError  # the nearest class the wire knows
    odd = wire.error({"type": "SomethingElse", "message": "m", "fields": {"x": 1}})
    assert type(odd) is DiracError and odd.fields == {"x": 1}
    assert wire.error_json(CatalogError("c", where=Path("/tmp")))["fields"] == {"where": "/tmp"}


def test_bulk_results_and_value_classes() -> None:
    entry = FileEntry(lfn="/vo/a", size=3, checksum="0000000a", guid="G")
    result = BulkResult[str, FileEntry](ok={"/vo/a": entry}, failed={"/vo/b": NotFound("no", lfn="/vo/b")})
    back = wire.bulk(wire.bulk_json(result, wire.entry_json), wire.entry)
    assert back.ok == result.ok and type(back.failed["/vo/b"]) is NotFound
    listing = DirectoryListing(files=("/vo/a",), subdirectories=("/vo/d",))
    assert wire.listing(wire.listing_json(listing)) == listing
    field = MetadataField(name="year", type="int", for_files=False)
    assert wire.field(wire.field_json(field)) == field
    info = DatasetInfo(name="/vo/ds", query={"year": {">": 1}}, path="/", frozen=True, files=2, size=5,
                       checksum="c")
    assert wire.dataset(wire.dataset_json(info)) == info
