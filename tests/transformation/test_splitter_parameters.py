"""Reading splitter parameters as DIRAC spells them; errors name the parameter."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.transformation.splitters.parameters import count, names, number


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("3", 3), (3.0, 3), ("3.0", 3), (" 7 ", 7)])
def test_count(value: object, expected: int) -> None:
    assert count("P", {"N": value}, "N", 1) == expected


def test_count_default_and_minimum() -> None:
    assert count("P", {}, "N", 5) == 5
    assert count("P", {"N": 0}, "N", 5, minimum=0) == 0
    with pytest.raises(InvalidTransformation, match="at least 1"):
        count("P", {"N": 0}, "N", 5)


@pytest.mark.parametrize("value", [2.5, "2.5", "x", True, None, [1], float("inf"), float("nan")])
def test_count_refuses(value: object) -> None:
    with pytest.raises(InvalidTransformation) as info:
        count("MyPlugin", {"N": value}, "N", 1)
    assert info.value.fields == {"plugin": "MyPlugin", "parameter": "N", "value": value}
    assert str(info.value).startswith("splitter MyPlugin: parameter N must be a whole number")


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), ("0.5", 0.5), (2.5, 2.5), ("1e3", 1000.0)])
def test_number(value: object, expected: float) -> None:
    assert number("P", {"G": value}, "G", 1) == expected


def test_number_zero_only_where_allowed() -> None:
    assert number("P", {"G": 0}, "G", 1, positive=False) == 0.0
    with pytest.raises(InvalidTransformation, match="greater than zero"):
        number("P", {"G": 0}, "G", 1)
    with pytest.raises(InvalidTransformation, match="must not be negative"):
        number("P", {"G": -1}, "G", 1, positive=False)


@pytest.mark.parametrize("value", ["x", None, False, 10**400, "inf", {}])
def test_number_refuses(value: object) -> None:
    with pytest.raises(InvalidTransformation, match="parameter G must be a number"):
        number("P", {"G": value}, "G", 1)


@pytest.mark.parametrize(("value", "expected"), [
    ("SE1", ("SE1",)), ("SE1,SE2", ("SE1", "SE2")), ("SE1, SE2,", ("SE1", "SE2")),
    ("['SE1', 'SE2']", ("SE1", "SE2")), (["SE2", "SE1", "SE2"], ("SE2", "SE1")), (("A",), ("A",)),
    ("", ()), ("None", ()), (None, ()), ([], ()),
])
def test_names(value: object, expected: tuple[str, ...]) -> None:
    assert names("P", {"L": value}, "L", required=False) == expected


@pytest.mark.parametrize("value", ["[1, 2]", "['a',", 5, ["a", ""], {"a": 1}])
def test_names_refuses(value: object) -> None:
    with pytest.raises(InvalidTransformation, match="parameter L"):
        names("P", {"L": value}, "L", required=False)


def test_names_required() -> None:
    with pytest.raises(InvalidTransformation, match="parameter L is required"):
        names("P", {}, "L", required=True)
