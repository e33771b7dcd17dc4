from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import URL, inspect

from dirac_core import Interware, load_config
from dirac_core.config import Config
from dirac_core.errors import ConfigError, DatabaseUnavailable
from dirac_core.interware import EMBEDDED_CONFIG
from dirac_core.model import FakeClock
from dirac_core.plugins import hookimpl


def test_embedded_builds_a_working_system(tmp_path: Path) -> None:
    clock = FakeClock()
    with Interware.embedded(tmp_path / "site", clock=clock) as iw:
        assert iw.clock is clock
        assert (tmp_path / "site" / "dirac.sqlite").exists()
        assert (tmp_path / "site" / "storage").is_dir()
        assert iw.database.dialect == "sqlite"
        assert "core_task_leases" in inspect(iw.database.engine).get_table_names()
        assert iw.config.registry.groups["demo_admin"].vo == "demo"
        site = iw.config.resources.sites["DIRAC"]["DIRAC.Embedded.local"]
        assert site.ces[0].type == "local"
        assert iw.config.resources.storage_elements["Embedded-SE"].protocols[0].path == \
            f"{(tmp_path / 'site').resolve()}/storage"


def test_embedded_reopens_the_same_database(tmp_path: Path) -> None:
    with Interware.embedded(tmp_path) as iw:
        first = iw.database.current_revision()
    with Interware.embedded(tmp_path) as iw:
        assert iw.database.current_revision() == first is not None


def test_embedded_uses_its_own_config_file(tmp_path: Path) -> None:
    text = EMBEDDED_CONFIG.format(root=tmp_path.as_posix()).replace('name = "alice"', 'name = "alice"\n'
                                                                        'dns = ["/O=Grid/CN=Alice"]')
    (tmp_path / "dirac.toml").write_text(text)
    with Interware.embedded(tmp_path) as iw:
        assert iw.config.registry.users["alice"].dns == ("/O=Grid/CN=Alice",)


def test_embedded_with_a_broken_config_file_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "dirac.toml").write_text('[registry]\ndefault_grup = "x"\n')
    with pytest.raises(ConfigError, match=r"registry\.default_grup"):
        Interware.embedded(tmp_path)


def test_from_config_with_hooks(db_url: URL) -> None:
    class Rule:
        @hookimpl
        def dirac_validate_job(self, description: dict[str, object]) -> list[str]:
            return ["nope"]

    cfg = load_config(f'[database]\nurl = "{db_url.render_as_string(hide_password=False)}"\n', format="toml")
    assert isinstance(cfg, Config)
    with Interware.from_config(cfg, plugins=[Rule()]) as iw:
        assert iw.hooks.hook.dirac_validate_job(description={}, owner="o", group="g", vo="v") == [["nope"]]
        assert iw.database.current_revision() is not None


def test_from_config_unreachable_database_hides_password() -> None:
    cfg = load_config('[database]\nurl = "postgresql://u:pa55-word@127.0.0.1:1/x"\n', format="toml")
    with pytest.raises(DatabaseUnavailable) as info:
        Interware.from_config(cfg)
    assert "127.0.0.1:1" in str(info.value)
    assert "pa55-word" not in str(info.value)
