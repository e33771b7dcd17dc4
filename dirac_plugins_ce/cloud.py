"""Pilots in virtual machines started through Apache Libcloud (the ``cloud`` CE).

Each pilot gets its own VM. The pilot script reaches the VM in its *user
data*, as a cloud-init ``#cloud-config`` document (built by
:func:`dirac_plugins_ce.cloud_init.build_user_data`)::

    #cloud-config
    write_files:                       # the site's own entries (``user_data``) first
    - path: /var/lib/dirac-pilot/pilot.sh
      permissions: '0755'
      encoding: gz+b64                 # the pilot script, gzipped: user data is small
      content: H4sI...
    - path: /var/lib/dirac-pilot/stamp
      content: <stamp>
    runcmd:
    - [env, DIRAC_PILOT_STAMP=<stamp>, /bin/sh, -c, cd /var/lib/dirac-pilot && exec ./pilot.sh]
    power_state: {mode: poweroff, ...}  # the VM stops when the pilot ends: STOPPED -> Done

``runcmd`` output goes to the VM's console, so :meth:`CloudComputingElement.output`
returns the console log where the provider gives it.

VMs are named ``<prefix>-<stamp>`` (in lower case) and the CE counts as its own the nodes whose
name has its prefix (``dirac-<ce name>`` by default). A pilot reference is
``cloud://<ce name>/<node id>``.

The libcloud driver object is a constructor argument, so that tests (and
callers with special needs) hand one in; :meth:`CloudComputingElement.from_section`
builds it from the configuration, importing libcloud only then. Errors of the
provider become :class:`~dirac_core.errors.CEUnreachable` (network failures)
or :class:`~dirac_core.errors.CEError` (everything else), with the cause chained.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import urlsplit

from dirac_core.config.queues import Queue
from dirac_core.config.sections import CESection, CloudCE
from dirac_core.errors import (
    BulkResult,
    CEError,
    CEUnreachable,
    ConfigError,
    DiracError,
    NotFound,
    PluginError,
)
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext, CEStatus, ComputingElement
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend
from dirac_plugins_ce.cloud_init import PILOT_DIR, build_user_data, parse_cloud_config

__all__ = ["NODE_STATES", "CloudComputingElement", "NodeDriverLike", "node_status"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Every libcloud ``NodeState`` value and the pilot status it means. A VM that
#: started and is not over (rebooting, paused, stopping, ...) counts as Running:
#: the pilot table does not allow Running -> Waiting.
NODE_STATES: Mapping[str, PilotStatus] = MappingProxyType({
    "pending": PilotStatus.WAITING,
    "starting": PilotStatus.WAITING,
    "running": PilotStatus.RUNNING,
    "normal": PilotStatus.RUNNING,
    "rebooting": PilotStatus.RUNNING,
    "migrating": PilotStatus.RUNNING,
    "reconfiguring": PilotStatus.RUNNING,
    "updating": PilotStatus.RUNNING,
    "suspended": PilotStatus.RUNNING,
    "paused": PilotStatus.RUNNING,
    "stopping": PilotStatus.RUNNING,
    "stopped": PilotStatus.DONE,
    "terminated": PilotStatus.DONE,
    "error": PilotStatus.FAILED,
    "unknown": PilotStatus.UNKNOWN,
})

#: ``create_node`` keywords that carry user data, by provider family
#: (OpenStack/EC2/CloudStack/Linode/Vultr, DigitalOcean/Outscale, Azure).
USER_DATA_KEYWORDS = ("ex_userdata", "ex_user_data", "ex_customdata")

_STAMP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_AUTO = "auto"


class NodeDriverLike(Protocol):
    """The part of a libcloud ``NodeDriver`` this CE uses."""

    name: str

    def list_nodes(self) -> list[Any]: ...
    def list_images(self) -> list[Any]: ...
    def list_sizes(self) -> list[Any]: ...
    def get_image(self, image_id: str) -> Any: ...
    def create_node(self, **kwargs: Any) -> Any: ...
    def destroy_node(self, node: Any) -> bool: ...


def node_status(state: object) -> PilotStatus:
    """The pilot status of a VM in libcloud ``state`` (a ``NodeState`` or its string); Unknown if unknown."""
    return NODE_STATES.get(str(state).lower(), PilotStatus.UNKNOWN)


def _create_node_keywords(driver: NodeDriverLike) -> tuple[frozenset[str], bool]:
    """The keyword names ``driver.create_node`` takes, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(driver.create_node).parameters.values()
    except (TypeError, ValueError):  # a builtin or wrapped callable: assume it takes anything
        return frozenset(), True
    names = frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD)
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


class CloudComputingElement(ComputingElement):
    """One VM per pilot through a libcloud compute driver.

    ``image`` and ``flavour`` (the libcloud *size*) are looked up by id, then
    by name, on first submission. At most ``max_instances`` of our VMs may be
    alive (not Done, Failed or gone); stamps beyond that fail. ``cloud_config``
    is the site's extra ``#cloud-config`` text, merged into every VM's user
    data. ``user_data_argument`` names the ``create_node`` keyword that
    carries user data: ``"auto"`` finds it in the driver's signature, None
    passes none (the VM then boots without the pilot; only for test
    providers such as libcloud's dummy). Raises :class:`ConfigError` when the
    driver cannot take the user data or ``key_name``.
    """

    def __init__(self, driver: NodeDriverLike, *, name: str, image: str, flavour: str,
                 key_name: str | None = None, max_instances: int = 10, cloud_config: str | None = None,
                 name_prefix: str | None = None, user_data_argument: str | None = _AUTO) -> None:
        self.name = name
        self.image = image
        self.flavour = flavour
        self.max_instances = max_instances
        self.name_prefix = name_prefix or f"dirac-{_slug(name)}"
        self._driver = driver
        self._base_config = parse_cloud_config(cloud_config) if cloud_config else {}
        self._create_extra: dict[str, Any] = {}
        keywords, takes_any = _create_node_keywords(driver)
        self._user_data_keyword = self._resolve_user_data_keyword(user_data_argument, keywords, takes_any)
        if key_name is not None:
            if "ex_keyname" not in keywords and not takes_any:
                raise ConfigError([("key_name", f"the {driver.name} driver takes no key name")])
            self._create_extra["ex_keyname"] = key_name
        self._lock = threading.Lock()
        self._resolved: tuple[Any, Any] | None = None

    def _resolve_user_data_keyword(self, wanted: str | None, keywords: frozenset[str],
                                   takes_any: bool) -> str | None:
        if wanted != _AUTO:
            return wanted or None
        for keyword in USER_DATA_KEYWORDS:
            if keyword in keywords:
                return keyword
        if takes_any:
            return USER_DATA_KEYWORDS[0]
        raise ConfigError([("options.user_data_argument",
                            f"the {self._driver.name} driver's create_node takes none of "
                            f"{', '.join(USER_DATA_KEYWORDS)}; name the keyword that carries user data, "
                            "or set it to '' to start VMs without the pilot (test providers only)")])

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """Build the CE from a :class:`~dirac_core.config.sections.CloudCE` section.

        ``section.driver`` is a libcloud provider name (``openstack``, ``ec2``,
        ``dummy``, ...). Options: ``key`` (user or access key), ``secret_file``
        (a file holding the secret, never the secret itself), ``region``,
        ``api_version`` and any ``ex_*`` are passed to the libcloud driver;
        ``endpoint`` becomes OpenStack's ``ex_force_auth_url`` or, for other
        providers, ``host``/``port``/``secure``; ``name_prefix`` and
        ``user_data_argument`` go to the constructor. The queue is not used
        (the flavour is the section's). Raises :class:`PluginUnavailable`
        without libcloud and :class:`ConfigError` for an unknown provider or
        arguments the driver refuses.
        """
        if not isinstance(section, CloudCE):
            raise PluginError(f"{cls.__name__} needs a CloudCE section, not {type(section).__name__}",
                              driver=cls.__name__)
        providers = import_backend("libcloud.compute.providers", group=PluginGroup.COMPUTING_ELEMENTS,
                                   name="cloud")
        try:
            driver_class = providers.get_driver(section.driver)
        except AttributeError as exc:
            raise ConfigError([("driver", f"libcloud has no compute provider {section.driver!r}")]) from exc
        args, kwargs = _driver_arguments(section)
        try:
            driver = driver_class(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError([("options", f"libcloud {section.driver} driver refused its arguments: {exc}")],
                              source=section.name) from exc
        options = section.options
        prefix = options.get("name_prefix")
        user_data_argument = options.get("user_data_argument", _AUTO)
        return cls(driver, name=section.name, image=section.image, flavour=section.flavour,
                   key_name=section.key_name, max_instances=section.max_instances,
                   cloud_config=section.user_data, name_prefix=str(prefix) if prefix else None,
                   user_data_argument=str(user_data_argument))

    # -- helpers ---------------------------------------------------------------

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run one provider call, translating its errors at this boundary."""
        try:
            return fn()
        except DiracError:
            raise
        except OSError as exc:  # socket, TLS and requests' connection errors
            raise CEUnreachable(f"cloud CE {self.name}: cannot reach {self._driver.name} "
                                f"to {action}: {exc}", ce=self.name, action=action) from exc
        except Exception as exc:  # libcloud and provider errors have no common base class
            raise CEError(f"cloud CE {self.name}: {action} failed: {type(exc).__name__}: {exc}",
                          ce=self.name, action=action) from exc

    def _nodes(self) -> list[Any]:
        return self._call("list nodes", self._driver.list_nodes)

    def _is_ours(self, node: Any) -> bool:
        return str(node.name or "").startswith(f"{self.name_prefix}-")

    def _reference(self, node: Any) -> str:
        return f"cloud://{self.name}/{node.id}"

    def _node_id(self, reference: str) -> str:
        prefix = f"cloud://{self.name}/"
        if not reference.startswith(prefix) or len(reference) == len(prefix):
            raise NotFound(f"{reference!r} is not a pilot reference of cloud CE {self.name}",
                           reference=reference)
        return reference[len(prefix):]

    def _image_and_size(self) -> tuple[Any, Any]:
        if self._resolved is None:
            self._resolved = (self._find_image(), _pick("size", self.flavour, self._driver.name,
                                                        self._call("list sizes", self._driver.list_sizes)))
        return self._resolved

    def _find_image(self) -> Any:
        try:
            image = self._driver.get_image(self.image)
        except Exception:  # not every provider fetches by id, and a name is no id: list instead
            image = None
        if image is not None:
            return image
        images = self._call("list images", self._driver.list_images)
        return _pick("image", self.image, self._driver.name, images)

    # -- the contract ----------------------------------------------------------

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """Start one VM per stamp, the pilot in its user data.

        Raises :class:`CEUnreachable` when the provider does not answer, and
        :class:`CEError` when the image or flavour does not exist (listing
        those that do). A stamp fails in the result when it is not made of
        letters, digits, ``_.-``, when ``max_instances`` of our VMs are alive,
        or when the provider refuses the VM; once the provider is
        unreachable, the remaining stamps fail the same way.
        """
        result: BulkResult[str, str] = BulkResult()
        if not stamps:
            return result
        with self._lock:
            image, size = self._image_and_size()
            alive = sum(1 for node in self._nodes()
                        if self._is_ours(node) and not node_status(node.state).is_final)
            unreachable: CEUnreachable | None = None
            for stamp in dict.fromkeys(stamps):
                if unreachable is not None:
                    result.add_failed(stamp, unreachable)
                elif not _STAMP.fullmatch(stamp):
                    result.add_failed(stamp, CEError(f"invalid pilot stamp {stamp!r}", stamp=stamp))
                elif alive >= self.max_instances:
                    result.add_failed(stamp, CEError(
                        f"cloud CE {self.name}: max_instances={self.max_instances} VMs are alive",
                        stamp=stamp, max_instances=self.max_instances))
                else:
                    try:
                        node = self._create(executable, stamp, image=image, size=size)
                    except CEUnreachable as exc:
                        unreachable = exc
                        result.add_failed(stamp, exc)
                    except CEError as exc:
                        result.add_failed(stamp, exc)
                    else:
                        alive += 1
                        result.add_ok(stamp, self._reference(node))
        return result

    def _create(self, executable: str, stamp: str, *, image: Any, size: Any) -> Any:
        kwargs = {"name": f"{self.name_prefix}-{_slug(stamp)}", "image": image, "size": size,
                  **self._create_extra}
        if self._user_data_keyword is not None:
            kwargs[self._user_data_keyword] = build_user_data(executable, stamp, base=self._base_config)
        node = self._call("create a VM", lambda: self._driver.create_node(**kwargs))
        log.info("cloud CE %s: started VM %s (%s) for pilot %s", self.name, node.id, node.name, stamp)
        return node

    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        """Each VM's pilot status (see :data:`NODE_STATES`); a VM no longer listed is Deleted.

        A reference that is not of this CE fails with :class:`NotFound`;
        raises :class:`CEUnreachable`/:class:`CEError` when the nodes cannot
        be listed.
        """
        result: BulkResult[str, PilotStatus] = BulkResult()
        wanted: dict[str, str] = {}
        for ref in references:
            try:
                wanted[ref] = self._node_id(ref)
            except NotFound as exc:
                result.add_failed(ref, exc)
        if wanted:
            nodes = {str(node.id): node for node in self._nodes()}
            for ref, node_id in wanted.items():
                node = nodes.get(node_id)
                result.add_ok(ref, PilotStatus.DELETED if node is None else node_status(node.state))
        return result

    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Destroy the VMs; a VM already gone or terminated counts as killed.

        A foreign reference fails with :class:`NotFound`, a refused or failed
        destruction with :class:`CEError`.
        """
        result: BulkResult[str, None] = BulkResult()
        wanted: dict[str, str] = {}
        for ref in references:
            try:
                wanted[ref] = self._node_id(ref)
            except NotFound as exc:
                result.add_failed(ref, exc)
        if not wanted:
            return result
        nodes = {str(node.id): node for node in self._nodes()}
        for ref, node_id in wanted.items():
            node = nodes.get(node_id)
            if node is None or str(node.state) == "terminated":
                result.add_ok(ref, None)
                continue
            try:
                self._destroy(node)
            except CEError as exc:
                result.add_failed(ref, exc)
            else:
                result.add_ok(ref, None)
        return result

    def _destroy(self, node: Any) -> None:
        if not self._call("destroy a VM", lambda: self._driver.destroy_node(node)):
            raise CEError(f"cloud CE {self.name}: the provider refused to destroy VM {node.id}",
                          ce=self.name, node=str(node.id))
        log.info("cloud CE %s: destroyed VM %s (%s)", self.name, node.id, node.name)

    def output(self, reference: str) -> tuple[str, str]:
        """The VM's console log as standard output (standard error is empty).

        Providers without console access (libcloud's ``ex_get_console_output``)
        give ``("", <message saying so>)``. Raises :class:`NotFound` for a
        foreign reference or a VM that no longer exists.
        """
        node_id = self._node_id(reference)
        node = next((n for n in self._nodes() if str(n.id) == node_id), None)
        if node is None:
            raise NotFound(f"cloud CE {self.name}: VM {node_id} no longer exists", reference=reference)
        console = getattr(self._driver, "ex_get_console_output", None)
        if console is None:
            return "", (f"{self._driver.name} gives no console output; "
                        f"the pilot's log is {PILOT_DIR} on VM {node_id}\n")
        text = self._call("read the console", lambda: console(node))
        if isinstance(text, Mapping):
            text = text.get("output") or ""
        return str(text or ""), ""

    def ce_status(self) -> CEStatus:
        """Our VMs (named with our prefix) that are Running, and those Waiting to boot."""
        statuses = [node_status(node.state) for node in self._nodes() if self._is_ours(node)]
        return CEStatus(running=sum(s is PilotStatus.RUNNING for s in statuses),
                        waiting=sum(s.is_waiting for s in statuses))

    def cleanup(self) -> list[str]:
        """Destroy our VMs whose pilot is over (stopped or in error); return their references.

        Stopped VMs keep their disks and quota until destroyed; DIRAC's
        SiteDirector does this each cycle. Errors are raised as in :meth:`kill`.
        """
        over = [node for node in self._nodes() if self._is_ours(node)
                and str(node.state) in ("stopped", "error")]
        for node in over:
            self._destroy(node)
        return [self._reference(node) for node in over]


def _pick(kind: str, wanted: str, provider: str, items: Sequence[Any]) -> Any:
    """The item whose id, else whose unique name, is ``wanted``; CEError listing the choices otherwise."""
    for item in items:
        if str(item.id) == wanted:
            return item
    named = [item for item in items if item.name == wanted]
    if len(named) == 1:
        return named[0]
    if named:
        raise CEError(f"{kind} name {wanted!r} is ambiguous on {provider}; use one of the ids "
                      f"{', '.join(sorted(str(i.id) for i in named))}", kind=kind, wanted=wanted)
    choices = ", ".join(sorted(f"{item.id} ({item.name})" for item in items)) or "none"
    raise CEError(f"no {kind} {wanted!r} on {provider}; available: {choices}", kind=kind, wanted=wanted)


def _driver_arguments(section: CloudCE) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments of the libcloud driver class, from the section."""
    options = section.options
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if "key" in options:
        args = (str(options["key"]),)
    if "secret_file" in options:
        path = str(options["secret_file"])
        try:
            with open(path, encoding="utf-8") as handle:
                args = (*args, handle.read().strip())
        except OSError as exc:
            raise ConfigError([("options.secret_file", f"cannot read {path}: {exc.strerror}")],
                              source=section.name) from exc
    for key, value in options.items():
        if key.startswith("ex_") or key in ("region", "api_version"):
            kwargs[key] = value
    if section.endpoint:
        if section.driver == "openstack":
            kwargs.setdefault("ex_force_auth_url", section.endpoint)
        else:
            url = urlsplit(section.endpoint)
            kwargs.update(host=url.hostname, secure=url.scheme != "http")
            if url.port:
                kwargs["port"] = url.port
    return args, kwargs
