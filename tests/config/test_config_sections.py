"""Plugin sections: the SectionTypes registry and third-party section types."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dirac_core.config import (
    CESection,
    SectionTypes,
    make_converter,
    structure_config,
    unstructure_config,
)
from dirac_core.config.sections import ENTRY_POINT_GROUP, LocalCE
from dirac_core.errors import ConfigError


@attrs.frozen(kw_only=True)
class KubernetesCE(CESection):
    """A third party's CE section."""

    type: str = "kubernetes"
    namespace: str = attrs.field(validator=attrs.validators.instance_of(str))
    max_pods: int = 10


def _with_k8s(site_data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    ces = site_data["resources"]["sites"]["LCG"]["LCG.Geneva.ch"]["ces"]
    ces.append({"type": "kubernetes", "name": "k8s", **fields})
    return site_data


def test_registered_type_structures_and_round_trips(site_data: dict[str, Any]) -> None:
    types = SectionTypes.default().copy()
    types.register("computing_element", "kubernetes", KubernetesCE)
    conv = make_converter(types)
    cfg = structure_config(_with_k8s(site_data, namespace="grid", max_pods=3), conv)
    ce = cfg.resources.site("LCG.Geneva.ch").ce("k8s")
    assert ce == KubernetesCE(name="k8s", namespace="grid", max_pods=3)
    assert structure_config(unstructure_config(cfg, conv), conv) == cfg


def test_registration_on_a_copy_leaves_the_original(site_data: dict[str, Any]) -> None:
    original = SectionTypes.builtin()
    copy = original.copy()
    copy.register("computing_element", "kubernetes", KubernetesCE)
    assert "kubernetes" in copy.known("computing_element")
    assert "kubernetes" not in original.known("computing_element")
    with pytest.raises(ConfigError) as info:
        structure_config(_with_k8s(site_data, namespace="grid"), make_converter(original))
    assert "unknown computing_element type 'kubernetes'" in str(info.value)


def test_registered_type_validates_its_fields(site_data: dict[str, Any]) -> None:
    types = SectionTypes.builtin()
    types.register("computing_element", "kubernetes", KubernetesCE)
    with pytest.raises(ConfigError) as info:
        structure_config(_with_k8s(site_data, max_pods="3", pod="x"), make_converter(types))
    path = "resources.sites.LCG.LCG.Geneva.ch.ces[2]"
    problems = dict(info.value.problems)
    assert set(problems) == {f"{path}.max_pods", f"{path}.pod", f"{path}.namespace"}


def test_register_refuses_wrong_classes() -> None:
    types = SectionTypes.builtin()
    with pytest.raises(ValueError, match="unknown section kind"):
        types.register("batch_system", "x", KubernetesCE)
    with pytest.raises(ValueError, match="deriving from ProtocolSection"):
        types.register("storage_protocol", "k", KubernetesCE)
    with pytest.raises(ValueError, match="attrs class"):
        types.register("computing_element", "k", dict)


def test_default_types_read_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEntryPoint:
        def __init__(self, name: str, value: Any) -> None:
            self.name, self._value = name, value

        def load(self) -> Any:
            if isinstance(self._value, Exception):
                raise self._value
            return self._value

    seen: list[str] = []

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        seen.append(group)
        return [FakeEntryPoint("computing_element:kubernetes", KubernetesCE),
                FakeEntryPoint("catalog:broken", ImportError("no backend"))]

    monkeypatch.setattr("dirac_core.config.sections.entry_points", fake_entry_points)
    types = SectionTypes.default()
    assert seen == [ENTRY_POINT_GROUP]
    assert types.get("computing_element", "kubernetes") is KubernetesCE
    assert types.known("catalog") == ["memory", "remote", "sql"]  # the broken one is skipped


def test_builtin_kinds_and_lookup() -> None:
    types = SectionTypes.builtin()
    assert types.kinds() == ["computing_element", "storage_protocol", "catalog", "identity_provider"]
    assert types.known("identity_provider") == ["oidc", "registry"]
    assert types.get("computing_element", "local") is LocalCE
    assert types.get("computing_element", "nope") is None
    assert types.known("storage_protocol") == ["davs", "file", "gfal2", "https", "memory", "root", "s3"]
