"""Reports drawn as PNG and SVG: valid files that show the expected labels."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from dirac_core.accounting import Aggregation, Chart, InvalidReport, JobRecord, RecordType, Report, TimeBin
from dirac_core.accounting.plots import MAX_SERIES, render
from dirac_core.interware import Interware

DAY = datetime(2026, 3, 2, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _texts(svg: bytes) -> list[str]:
    """Every text drawn in an SVG (which must parse as XML)."""
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return [" ".join("".join(el.itertext()).split()) for el in root.iter("{http://www.w3.org/2000/svg}text")]


def _png_text(png: bytes) -> dict[str, str]:
    assert png.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (1000, 560)
        return dict(image.text)  # type: ignore[attr-defined]


def _report(chart: Chart, keys: list[str], *, unit: str = "jobs", width: TimeBin | None = TimeBin.DAY,
            days: int = 3) -> Report:
    bins = [DAY + timedelta(days=i) for i in range(days)] if width else []
    series = {k: [float(i + n) for i in range(len(bins))] for n, k in enumerate(keys)}
    totals = ({k: sum(v) or 1.0 for k, v in series.items()} if width
              else {k: 1.0 + n for n, k in enumerate(keys)})
    data = Aggregation(record=RecordType.JOB, measure="jobs", group_by="site", since=DAY,
                       until=DAY + timedelta(days=days), width=width, bins=bins, keys=keys, series=series,
                       totals=totals, unit=unit, label="Jobs")
    return Report(kind="jobs-by-site", title="Jobs by site", chart=chart, data=data)


def test_an_engine_report_as_png_and_svg(iw: Interware) -> None:
    iw.accounting.add([JobRecord(job_id=i, owner="alice", group="demo_user", vo="demo", site=site,
                                 status=status, end=DAY + timedelta(hours=5 * i))
                       for i, (site, status) in enumerate([("LCG.A.ch", "Done"), ("LCG.B.fr", "Failed"),
                                                           ("LCG.A.ch", "Done"), ("LCG.C.it", "Killed")])])
    options = {"since": DAY, "until": DAY + timedelta(days=2)}
    png = iw.accounting.plot("jobs-by-site", "png", **options)
    assert _png_text(png)["Title"] == "Jobs by site"
    assert _png_text(png)["Description"] == "jobs-by-site: LCG.A.ch, LCG.B.fr, LCG.C.it"
    texts = _texts(iw.accounting.plot("jobs-by-site", "svg", **options))
    assert {"Jobs by site", "LCG.A.ch", "LCG.B.fr", "LCG.C.it", "site", "jobs", "time (UTC)"} <= set(texts)
    assert "2026-03-02 00:00 to 2026-03-04 00:00 UTC, by hour" in texts
    pie = _texts(iw.accounting.plot("final-statuses", "svg", **options))
    assert {"Final statuses of jobs", "Done", "Failed", "Killed", "50.0%", "25.0%"} <= set(pie)


@pytest.mark.parametrize("chart", [Chart.BARS, Chart.LINES])
def test_time_series_show_the_largest_keys_and_other(chart: Chart) -> None:
    keys = [f"SITE-{i:02d}" for i in range(MAX_SERIES + 3)]
    texts = _texts(render(_report(chart, keys), "svg"))
    assert set(keys[:MAX_SERIES - 1]) <= set(texts) and "other" in texts
    assert not set(keys[MAX_SERIES - 1:]) & set(texts)


def test_byte_rates_are_scaled_for_reading() -> None:
    report = _report(Chart.LINES, ["SE-A -> SE-B"], unit="bytes/s")
    report.data.series["SE-A -> SE-B"][:] = [2e6, 4e6, 6e6]
    assert "MB/s" in _texts(render(report, "svg"))


def test_a_pie_and_an_empty_report() -> None:
    texts = _texts(render(_report(Chart.PIE, ["Done", "Failed"], width=None), "svg"))
    assert {"Done", "Failed", "33.3%", "66.7%"} <= set(texts)
    empty = render(_report(Chart.BARS, []), "png")
    assert _png_text(empty)["Description"] == "jobs-by-site: "
    assert "no records in this period" in _texts(render(_report(Chart.BARS, []), "svg"))


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidReport, match="unknown image format 'gif'"):
        render(_report(Chart.BARS, ["a"]), "gif")
