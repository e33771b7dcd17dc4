"""The public API, the database section and the TOML writer."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dirac_core.config as config_pkg
from dirac_core.config import Config, Queue, load_config, make_converter
from dirac_core.config.toml_writer import dumps_toml
from dirac_core.errors import ConfigError


def test_exports_are_sorted_and_importable() -> None:
    names = config_pkg.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert getattr(config_pkg, name) is not None
    for name in ("Config", "Registry", "Resources", "Operations", "SectionTypes",
                 "load_config", "load_dirac_cfg", "make_converter", "dump_config"):
        assert name in names


def test_database_section() -> None:
    assert Config().database.url == "sqlite://"
    cfg = load_config('[database]\nurl = "mysql+mysqldb://dirac:s3cret@db.example.org/dirac"\n')
    assert cfg.database.url == "mysql+mysqldb://dirac:s3cret@db.example.org/dirac"
    assert "s3cret" not in repr(cfg)
    assert "dirac:***@db.example.org" in repr(cfg.database)
    with pytest.raises(ConfigError) as info:
        load_config('[database]\nurl = "not a url"\n')
    assert [p for p, _ in info.value.problems] == ["database.url"]
    with pytest.raises(ConfigError) as info:
        load_config('[database]\necho = 1\n')
    assert info.value.problems == [("database.echo", "expected bool, got 1")]


def test_toml_writer_quotes_keys_and_escapes_strings() -> None:
    data: dict[str, Any] = {
        "a.b": {"key with space": 'say "hi"\n\ttab', "n": -3, "f": 1.5, "inf": float("inf"),
                "empty": {}, "list": [], "flags": [True, False]},
        "tables": [{"x": 1, "sub": {"y": "z"}}, {"x": 2}],
        "skip": None,
    }
    text = dumps_toml(data)
    parsed = tomllib.loads(text)
    del data["skip"]
    assert parsed == data


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12)


@given(name=names, cpu=st.integers(0, 10**7), wall=st.none() | st.integers(0, 10**7),
       procs=st.integers(1, 256), tags=st.frozensets(st.text(max_size=8), max_size=4),
       options=st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=6)
                               | st.booleans() | st.lists(st.text(max_size=4)).map(tuple),
                               max_size=4))
def test_queue_round_trips(name: str, cpu: int, wall: int | None, procs: int,  # noqa: PLR0917
                           tags: frozenset[str], options: dict[str, Any]) -> None:
    # hypothesis passes the drawn values as named arguments
    conv = make_converter()
    queue = Queue(name=name, max_cpu_time=cpu, max_wall_time=wall, processors=procs,
                  tags=tags, options=options)
    data = conv.unstructure(queue)
    assert conv.structure(data, Queue) == queue
    assert tomllib.loads(dumps_toml({"q": data}))["q"] == data
