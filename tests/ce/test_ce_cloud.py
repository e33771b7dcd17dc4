"""The cloud CE, against libcloud's own dummy provider.

libcloud has no local cloud, so the dummy driver stands in for one. It keeps
neither names nor user data, so :class:`RecordingDummy` (a thin subclass)
records ``create_node``'s keywords and keeps the requested name, as real
providers do; the conformance suite runs against both.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from libcloud.common.types import LibcloudError
from libcloud.compute.drivers.dummy import DummyNodeDriver
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider

from dirac_core.config.queues import Queue
from dirac_core.config.sections import CloudCE, LocalCE
from dirac_core.errors import CEError, CEUnreachable, ConfigError, NotFound, PluginError, PluginUnavailable
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext
from dirac_core.testing.conformance import PILOT_SCRIPT, ComputingElementSuite
from dirac_plugins_ce.cloud import NODE_STATES, CloudComputingElement, _driver_arguments, node_status
from dirac_plugins_ce.cloud_init import PILOT_DIR, build_user_data, parse_cloud_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "#!/bin/sh\necho 'pilot for \"$DIRAC_PILOT_STAMP\"'\nexit 0\n"


class RecordingDummy(DummyNodeDriver):
    """The dummy provider, keeping requested names, unique ids and every ``create_node`` call."""

    def __init__(self, creds: int = 0) -> None:
        super().__init__(creds)
        self.created: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def create_node(self, name: str, size: Any, image: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.created.append({"name": name, "size": size, "image": image, **kwargs})
        node = super().create_node(name, size, image)
        node.name = name
        node.id = f"vm-{next(self._ids)}"
        return node

    def node(self, reference: str) -> Any:
        node_id = reference.rsplit("/", 1)[1]
        return next(n for n in self.nl if str(n.id) == node_id)

    def set_state(self, reference: str, state: NodeState) -> None:
        self.node(reference).state = state


class ConsoleDummy(RecordingDummy):
    """A provider with console access, answering like OpenStack (a dict with ``output``)."""

    def ex_get_console_output(self, node: Any) -> dict[str, str]:
        return {"output": f"cloud-init: pilot on {node.name} finished\n"}


def make_ce(driver: Any, **options: Any) -> CloudComputingElement:
    options.setdefault("image", "Ubuntu 9.10")
    options.setdefault("flavour", "Small")
    return CloudComputingElement(driver, name="cloud-test", **options)


def decode_user_data(text: str) -> dict[str, Any]:
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def pilot_file(doc: dict[str, Any]) -> str:
    entry = next(f for f in doc["write_files"] if f["path"] == f"{PILOT_DIR}/pilot.sh")
    assert entry["encoding"] == "gz+b64" and entry["permissions"] == "0755"
    return gzip.decompress(base64.b64decode(entry["content"])).decode()


class TestPlainDummyConformance(ComputingElementSuite):
    """libcloud's dummy as it is: it takes no user data, so the CE is told to pass none."""

    @pytest.fixture
    def driver(self) -> CloudComputingElement:
        return make_ce(get_driver(Provider.DUMMY)(0), user_data_argument=None)


class TestRecordingDummyConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self) -> CloudComputingElement:
        return make_ce(ConsoleDummy())


# -- user data -----------------------------------------------------------------


def test_user_data_carries_script_and_stamp() -> None:
    doc = decode_user_data(build_user_data(SCRIPT, "abc123"))
    assert pilot_file(doc) == SCRIPT
    stamp_file = next(f for f in doc["write_files"] if f["path"] == f"{PILOT_DIR}/stamp")
    assert stamp_file["content"] == "abc123\n"
    (command,) = doc["runcmd"]
    assert command[:2] == ["env", "DIRAC_PILOT_STAMP=abc123"]
    assert command[-1] == f"cd {PILOT_DIR} && exec ./pilot.sh"
    assert doc["power_state"]["mode"] == "poweroff"


def test_user_data_is_deterministic() -> None:
    assert build_user_data(SCRIPT, "s1") == build_user_data(SCRIPT, "s1")
    assert build_user_data(SCRIPT, "s1") != build_user_data(SCRIPT, "s2")


def test_site_cloud_config_comes_first_and_is_kept() -> None:
    site = parse_cloud_config(
        "#cloud-config\npackages: [cvmfs]\n"
        "write_files:\n- path: /etc/cvmfs/default.local\n  content: CVMFS_HTTP_PROXY=DIRECT\n"
        "runcmd:\n- [cvmfs_config, setup]\npower_state: {mode: halt}\n")
    doc = decode_user_data(build_user_data(SCRIPT, "s1", base=site))
    assert doc["packages"] == ["cvmfs"]
    assert [f["path"] for f in doc["write_files"]] == [
        "/etc/cvmfs/default.local", f"{PILOT_DIR}/pilot.sh", f"{PILOT_DIR}/stamp"]
    assert doc["runcmd"][0] == ["cvmfs_config", "setup"] and len(doc["runcmd"]) == 2
    assert doc["power_state"] == {"mode": "halt"}
    assert site["runcmd"] == [["cvmfs_config", "setup"]]  # the site's document is not modified


@pytest.mark.parametrize(("text", "where"), [
    ("- just\n- a list\n", "user_data"),
    ("runcmd: echo hi\n", "user_data.runcmd"),
    ("write_files: {path: /x}\n", "user_data.write_files"),
    ("key: [unclosed\n", "user_data"),
])
def test_bad_site_cloud_config(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cloud_config(text)
    assert info.value.problems[0][0] == where


def test_empty_site_cloud_config() -> None:
    assert parse_cloud_config("#cloud-config\n") == {}


def test_bad_site_cloud_config_refused_at_construction() -> None:
    with pytest.raises(ConfigError):
        make_ce(RecordingDummy(), cloud_config="[1, 2]")


# -- submission ----------------------------------------------------------------


def test_submit_passes_user_data_name_image_and_size() -> None:
    driver = RecordingDummy()
    ce = make_ce(driver, image="2", flavour="Medium", key_name="pilots",
                 cloud_config="#cloud-config\npackages: [cvmfs]\n")
    res = ce.submit(SCRIPT, ["Stamp_1"])
    assert res.all_ok
    (call,) = driver.created
    assert call["name"] == "dirac-cloud-test-stamp-1"
    assert call["image"].name == "Ubuntu 9.04" and call["size"].name == "Medium"
    assert call["ex_keyname"] == "pilots"
    doc = decode_user_data(call["ex_userdata"])
    assert pilot_file(doc) == SCRIPT
    assert "DIRAC_PILOT_STAMP=Stamp_1" in doc["runcmd"][0]
    assert doc["packages"] == ["cvmfs"]
    assert res.ok["Stamp_1"] == f"cloud://cloud-test/{driver.nl[-1].id}"


def test_user_data_keyword_found_in_the_signature() -> None:
    class AzureLike(RecordingDummy):
        def create_node(self, name: str, size: Any, image: Any,  # type: ignore[override]
                        ex_customdata: str = "") -> Any:
            return super().create_node(name, size, image, ex_customdata=ex_customdata)

    driver = AzureLike()
    make_ce(driver).submit(SCRIPT, ["s1"])
    assert pilot_file(decode_user_data(driver.created[0]["ex_customdata"])) == SCRIPT


def test_driver_without_user_data_keyword_needs_configuration() -> None:
    with pytest.raises(ConfigError) as info:
        make_ce(get_driver(Provider.DUMMY)(0))
    assert info.value.problems[0][0] == "options.user_data_argument"
    with pytest.raises(ConfigError, match="key name"):
        make_ce(get_driver(Provider.DUMMY)(0), user_data_argument=None, key_name="k")


def test_image_and_flavour_not_found_list_what_exists() -> None:
    driver = RecordingDummy()
    with pytest.raises(CEError, match=r"no image 'CentOS 7'.*1 \(Ubuntu 9.10\), 2 \(Ubuntu 9.04\), 3"):
        make_ce(driver, image="CentOS 7").submit(SCRIPT, ["s1"])
    sizes = r": 1 \(Small\), 2 \(Medium\), 3 \(Big\), 4 \(XXL Big\)$"
    with pytest.raises(CEError, match=r"no size 'Huge' on Dummy Node Provider; available" + sizes):
        make_ce(driver, flavour="Huge").submit(SCRIPT, ["s1"])
    assert driver.created == []


def test_ambiguous_image_name() -> None:
    class TwinImages(RecordingDummy):
        def list_images(self, location: Any = None) -> list[Any]:
            return [*super().list_images(), type(super().list_images()[0])(id=9, name="Ubuntu 9.10",
                                                                         driver=self)]

    with pytest.raises(CEError, match=r"ambiguous.*1, 9"):
        make_ce(TwinImages()).submit(SCRIPT, ["s1"])


def test_max_instances() -> None:
    driver = RecordingDummy()
    ce = make_ce(driver, max_instances=2)
    res = ce.submit(SCRIPT, ["a", "b", "c"])
    assert set(res.ok) == {"a", "b"}
    assert isinstance(res.failed["c"], CEError) and "max_instances=2" in str(res.failed["c"])
    assert not ce.submit(SCRIPT, ["d"]).ok
    driver.set_state(res.ok["a"], NodeState.STOPPED)  # a finished pilot frees its place
    assert set(ce.submit(SCRIPT, ["e", "f"]).ok) == {"e"}
    assert len(driver.created) == 3
    assert make_ce(RecordingDummy(), max_instances=0).submit(SCRIPT, ["x"]).failed


def test_foreign_vms_do_not_count() -> None:
    driver = RecordingDummy(5)  # five VMs that are not ours
    assert make_ce(driver, max_instances=1).submit(SCRIPT, ["a"]).all_ok


def test_invalid_and_duplicate_stamps() -> None:
    driver = RecordingDummy()
    res = make_ce(driver).submit(SCRIPT, ["ok-1", "bad stamp", "../x", "ok-1"])
    assert set(res.ok) == {"ok-1"}
    assert set(res.failed) == {"bad stamp", "../x"}
    assert len(driver.created) == 1


def test_submit_nothing_calls_nothing() -> None:
    class Offline(RecordingDummy):
        def list_nodes(self) -> list[Any]:
            raise AssertionError("not called")

    assert len(make_ce(Offline()).submit(SCRIPT, [])) == 0


# -- status, kill, output, ce_status -------------------------------------------


def test_every_libcloud_node_state_is_mapped() -> None:
    assert {str(state) for state in NodeState} == set(NODE_STATES)


@pytest.mark.parametrize(("state", "expected"), [
    (NodeState.PENDING, PilotStatus.WAITING),
    (NodeState.STARTING, PilotStatus.WAITING),
    (NodeState.RUNNING, PilotStatus.RUNNING),
    (NodeState.REBOOTING, PilotStatus.RUNNING),
    (NodeState.SUSPENDED, PilotStatus.RUNNING),
    (NodeState.STOPPING, PilotStatus.RUNNING),
    (NodeState.STOPPED, PilotStatus.DONE),
    (NodeState.TERMINATED, PilotStatus.DONE),
    (NodeState.ERROR, PilotStatus.FAILED),
    (NodeState.UNKNOWN, PilotStatus.UNKNOWN),
])
def test_status_follows_node_state(state: NodeState, expected: PilotStatus) -> None:
    driver = RecordingDummy()
    ce = make_ce(driver)
    ref = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    driver.set_state(ref, state)
    assert ce.status([ref]).ok == {ref: expected}


def test_unknown_state_strings() -> None:
    assert node_status("RUNNING") is PilotStatus.RUNNING
    assert node_status("hibernating") is PilotStatus.UNKNOWN


def test_status_of_vanished_and_foreign_references() -> None:
    driver = RecordingDummy()
    ce = make_ce(driver)
    ref = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    driver.nl.remove(driver.node(ref))
    res = ce.status([ref, "cloud://other-ce/vm-1", "cloud://cloud-test/"])
    assert res.ok == {ref: PilotStatus.DELETED}
    assert all(isinstance(e, NotFound) for e in res.failed.values()) and len(res.failed) == 2


def test_kill_destroys_the_vm() -> None:
    driver = RecordingDummy()
    ce = make_ce(driver)
    refs = ce.submit(SCRIPT, ["s1", "s2"]).ok
    assert ce.kill([refs["s1"], "cloud://elsewhere/1"]).failed.keys() == {"cloud://elsewhere/1"}
    assert [n.name for n in driver.nl if n.name.startswith("dirac-")] == ["dirac-cloud-test-s2"]
    assert ce.status([refs["s1"]]).ok == {refs["s1"]: PilotStatus.DELETED}
    assert ce.kill([refs["s1"]]).all_ok


def test_kill_refused_by_the_provider() -> None:
    class Stubborn(RecordingDummy):
        def destroy_node(self, node: Any) -> bool:
            return False

    ce = make_ce(Stubborn())
    ref = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    err = ce.kill([ref]).failed[ref]
    assert isinstance(err, CEError) and "refused to destroy" in str(err)


def test_output_from_the_console() -> None:
    driver = ConsoleDummy()
    ce = make_ce(driver)
    ref = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    assert ce.output(ref) == ("cloud-init: pilot on dirac-cloud-test-s1 finished\n", "")
    driver.nl.remove(driver.node(ref))
    with pytest.raises(NotFound):
        ce.output(ref)


def test_output_without_console_says_so() -> None:
    ce = make_ce(RecordingDummy())
    ref = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    out, err = ce.output(ref)
    assert out == "" and "gives no console output" in err
    with pytest.raises(NotFound):
        ce.output("cloud://other/1")


def test_ce_status_counts_our_vms_only() -> None:
    driver = RecordingDummy(3)  # three running VMs that are not ours
    ce = make_ce(driver)
    refs = ce.submit(SCRIPT, ["a", "b", "c", "d"]).ok
    driver.set_state(refs["a"], NodeState.PENDING)
    driver.set_state(refs["b"], NodeState.STARTING)
    driver.set_state(refs["c"], NodeState.STOPPED)
    status = ce.ce_status()
    assert (status.running, status.waiting) == (1, 2)


def test_cleanup_destroys_finished_vms() -> None:
    driver = RecordingDummy(2)
    ce = make_ce(driver)
    refs = ce.submit(SCRIPT, ["a", "b", "c"]).ok
    driver.set_state(refs["a"], NodeState.STOPPED)
    driver.set_state(refs["b"], NodeState.ERROR)
    assert sorted(ce.cleanup()) == sorted([refs["a"], refs["b"]])
    assert sorted(n.name for n in driver.nl) == ["dirac-cloud-test-c", "dummy-0", "dummy-1"]


# -- provider errors -----------------------------------------------------------


class Failing(RecordingDummy):
    def __init__(self, *, list_error: Exception | None = None, create_error: Exception | None = None) -> None:
        super().__init__()
        self.list_error = list_error
        self.create_error = create_error
        self.create_calls = 0

    def list_nodes(self) -> list[Any]:
        if self.list_error is not None:
            raise self.list_error
        return super().list_nodes()

    def create_node(self, name: str, size: Any, image: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.create_calls += 1
        if self.create_error is not None:
            raise self.create_error
        return super().create_node(name, size, image, **kwargs)


def test_unreachable_provider() -> None:
    ce = make_ce(Failing(list_error=ConnectionRefusedError(111, "Connection refused")))
    with pytest.raises(CEUnreachable, match="cannot reach Dummy Node Provider to list nodes") as info:
        ce.ce_status()
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    with pytest.raises(CEUnreachable):
        ce.status(["cloud://cloud-test/vm-1"])
    with pytest.raises(CEUnreachable):
        ce.submit(SCRIPT, ["s1"])


def test_provider_error_is_a_ce_error() -> None:
    ce = make_ce(Failing(list_error=LibcloudError("Invalid credentials")))
    with pytest.raises(CEError, match=r"list nodes failed: LibcloudError: .*Invalid credentials") as info:
        ce.ce_status()
    assert not isinstance(info.value, CEUnreachable)


def test_refused_vm_fails_its_stamp_only() -> None:
    driver = Failing(create_error=LibcloudError("Quota exceeded for instances"))
    res = make_ce(driver).submit(SCRIPT, ["a", "b"])
    assert not res.ok and driver.create_calls == 2
    assert "Quota exceeded" in str(res.failed["a"])


def test_unreachable_while_creating_fails_the_rest_without_trying() -> None:
    driver = Failing(create_error=TimeoutError("timed out"))
    res = make_ce(driver).submit(SCRIPT, ["a", "b", "c"])
    assert driver.create_calls == 1
    assert all(isinstance(e, CEUnreachable) for e in res.failed.values()) and len(res.failed) == 3


# -- configuration -------------------------------------------------------------


def section(**fields: Any) -> CloudCE:
    fields.setdefault("options", {"key": "0", "user_data_argument": ""})
    return CloudCE(name="cloud.example", driver=fields.pop("driver", "dummy"), image="Ubuntu 9.10",
                   flavour="Small", **fields)


def context(tmp_path: Path) -> CEContext:
    return CEContext(work_dir=str(tmp_path))


def test_from_section(tmp_path: Path) -> None:
    queue = Queue(name="default")
    ce = CloudComputingElement.from_section(section(max_instances=1), queue, context(tmp_path))
    assert ce.name_prefix == "dirac-cloud-example"
    res = ce.submit(PILOT_SCRIPT, ["a", "b"])
    assert set(res.ok) == {"a"} and set(res.failed) == {"b"}


def test_from_section_errors(tmp_path: Path) -> None:
    queue = Queue(name="default")
    with pytest.raises(ConfigError, match="no compute provider 'nosuchcloud'"):
        CloudComputingElement.from_section(section(driver="nosuchcloud"), queue, context(tmp_path))
    with pytest.raises(ConfigError, match="refused its arguments"):  # the dummy takes no endpoint
        CloudComputingElement.from_section(section(endpoint="https://cloud.example:5000"), queue,
                                           context(tmp_path))
    with pytest.raises(ConfigError, match=r"options\.user_data_argument"):
        CloudComputingElement.from_section(section(options={"key": "0"}), queue, context(tmp_path))
    with pytest.raises(PluginError, match="needs a CloudCE section"):
        CloudComputingElement.from_section(LocalCE(name="local"), queue, context(tmp_path))


def test_driver_arguments(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    options = {"key": "alice", "secret_file": str(secret), "ex_tenant_name": "dirac", "region": "RegionOne",
               "name_prefix": "x"}
    args, kwargs = _driver_arguments(section(driver="openstack", endpoint="https://keystone:5000/v3",
                                             options=options))
    assert args == ("alice", "s3cret")
    assert kwargs == {"ex_tenant_name": "dirac", "region": "RegionOne",
                      "ex_force_auth_url": "https://keystone:5000/v3"}
    _, kwargs = _driver_arguments(section(driver="ec2", endpoint="http://s3.local:8773", options={}))
    assert kwargs == {"host": "s3.local", "secure": False, "port": 8773}
    with pytest.raises(ConfigError, match=r"options\.secret_file"):
        _driver_arguments(section(options={"secret_file": str(tmp_path / "missing")}))


def test_missing_libcloud_is_plugin_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libcloud.compute.providers", None)
    with pytest.raises(PluginUnavailable) as info:
        CloudComputingElement.from_section(section(), Queue(name="default"), context(tmp_path))
    assert info.value.extra == "cloud"


def test_module_imports_without_libcloud() -> None:
    code = "import sys; sys.modules['libcloud'] = None; import dirac_plugins_ce.cloud"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_entry_point_is_declared() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["dirac.computing_elements"]["cloud"] == "dirac_plugins_ce.cloud:CloudComputingElement"
