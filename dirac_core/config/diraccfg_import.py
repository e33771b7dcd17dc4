"""Importing a DIRAC ``.cfg`` file (``/Registry``, ``/Resources``, ``/Operations``) into a Config.

The file is parsed with PyPI's ``diraccfg``, mapped to the same plain data a
TOML file gives, and structured by the same converter. DIRAC's
comma-separated values are split, ``maxCPUTime`` (minutes) becomes seconds,
queue limits set on a CE are inherited by its queues, and options this model
does not know go into the plugin section's ``options`` so that a real site's
file loads unchanged. A value that cannot be mapped (an unknown ``CEType``, a
number that is not one) is a :class:`ConfigError` naming its ``/cfg/path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diraccfg import CFG

from dirac_core.config.converter import make_converter, structure_config
from dirac_core.config.model import Config
from dirac_core.config.sections import SectionTypes
from dirac_core.errors import ConfigError

__all__ = ["load_dirac_cfg"]

Section = dict[str, Any]

#: DIRAC CEType -> (our type, fixed fields)
CE_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "SSH": ("batch", {"transport": "ssh"}), "SSHBatch": ("batch", {"transport": "ssh"}),
    "HTCondorCE": ("htcondorce", {}),
    "AREX": ("arc", {}), "ARC": ("arc", {}), "ARC6": ("arc", {}),
    "InProcess": ("local", {}), "Pool": ("local", {}), "Local": ("local", {}),
    "CloudCE": ("cloud", {}),
}
#: DIRAC BatchSystem -> ours
BATCH_SYSTEMS = {"SLURM": "slurm", "Condor": "htcondor", "HTCondor": "htcondor", "Torque": "pbs",
                 "PBS": "pbs", "LSF": "lsf", "GE": "sge", "SGE": "sge", "OAR": "oar",
                 "Host": "fork"}
#: DIRAC storage PluginName -> ours; GFAL2_<X> plugins all map to gfal2
SE_PLUGINS = {"File": "file", "XROOT": "root", "HTTPS": "https", "DAVS": "davs", "S3": "s3",
              "SRM2": "gfal2"}
_TRUE = {"true", "yes", "y", "1"}


def _split(value: Any) -> list[str]:
    return [x.strip() for x in str(value).split(",") if x.strip()] if value else []


class _Mapper:
    """Collects problems (with their cfg paths) while mapping one file."""

    def __init__(self, root: Section) -> None:
        self.root = root
        self.problems: list[tuple[str, str]] = []

    def num(self, section: Section, key: str, path: str, scale: int = 1,
            conv: Callable[[str], Any] = int) -> Any:
        try:
            return conv(float(section[key]) * scale) if conv is int else conv(section[key])
        except (TypeError, ValueError):
            self.problems.append((f"{path}/{key}", f"expected a number, got {section[key]!r}"))
            return None

    # --- registry -----------------------------------------------------------

    def registry(self) -> Section:
        reg: Section = self.root.get("Registry", {})
        default_vo = self.root.get("DIRAC", {}).get("VirtualOrganization")
        users = {name: _drop_none({"dns": _split(u.get("DN")), "email": u.get("Email"),
                                   "ca": u.get("CA"), "sub": u.get("Sub")})
                 for name, u in _sections(reg.get("Users", {})).items()}
        groups: Section = {}
        for name, g in _sections(reg.get("Groups", {})).items():
            vo = g.get("VO", default_vo)
            if not vo:
                self.problems.append((f"/Registry/Groups/{name}/VO", "no VO (and no "
                                      "/DIRAC/VirtualOrganization to fall back on)"))
                continue
            props = _split(g.get("Properties"))
            group = {"vo": vo, "users": _split(g.get("Users")), "properties": props,
                     "job_sharing": "JobSharing" in props, "voms_role": g.get("VOMSRole")}
            if "JobShare" in g:
                group["job_share"] = self.num(g, "JobShare", f"/Registry/Groups/{name}")
            groups[name] = _drop_none(group)
        default_groups = [g for g in _split(reg.get("DefaultGroup")) if g in groups]
        vos: Section = {}
        vo_names = set(_sections(reg.get("VO", {}))) | {g["vo"] for g in groups.values()}
        for name in sorted(vo_names):
            vo = reg.get("VO", {}).get(name, {})
            default = vo.get("DefaultGroup") or next(
                (g for g in default_groups if groups[g]["vo"] == name), None)
            vos[name] = _drop_none({"voms_name": vo.get("VOMSName"), "admin": vo.get("VOAdmin"),
                                    "default_group": default})
        return _drop_none({"vos": vos, "users": users, "groups": groups,
                           "default_group": default_groups[0] if default_groups else None})

    # --- resources ----------------------------------------------------------

    def resources(self) -> Section:
        res: Section = self.root.get("Resources", {})
        sites: Section = {}
        for grid, grid_sites in _sections(res.get("Sites", {})).items():
            sites[grid] = {name: self.site(s, f"/Resources/Sites/{grid}/{name}")
                           for name, s in _sections(grid_sites).items()}
        ses = {name: self.storage_element(name, se, res)
               for name, se in _sections(res.get("StorageElements", {})).items()}
        catalogs = {name: self.catalog(c, f"/Resources/FileCatalogs/{name}", name)
                    for name, c in _sections(res.get("FileCatalogs", {})).items()}
        out: Section = {"sites": sites, "storage_elements": ses, "catalogs": catalogs}
        compat = res.get("Computing", {}).get("OSCompatibility", {})
        if compat:
            out["os_compatibility"] = {platform: _split(oses) for platform, oses in compat.items()
                                       if not isinstance(oses, dict)}
        return out

    def site(self, site: Section, path: str) -> Section:
        ces = site.get("CEs", {})
        names = _split(site.get("CE")) or list(_sections(ces))
        out: Section = {"ces": [self.ce(n, ces.get(n, {}), f"{path}/CEs/{n}") for n in names],
                        "ses": _split(site.get("SE"))}
        if "Coordinates" in site:
            try:
                lon, lat = (float(x) for x in str(site["Coordinates"]).split(":"))
                out["coordinates"] = [lon, lat]
            except ValueError:
                self.problems.append((f"{path}/Coordinates",
                                      f"expected 'longitude:latitude', got {site['Coordinates']!r}"))
        if "MoUTierLevel" in site:
            try:
                out["tier"] = int(site["MoUTierLevel"])
            except ValueError:
                self.problems.append((f"{path}/MoUTierLevel",
                                      f"expected a number, got {site['MoUTierLevel']!r}"))
        if site.get("Mail"):
            out["contact_email"] = _split(site["Mail"])[0]
        if site.get("Description"):
            out["description"] = site["Description"]
        return out

    def ce(self, name: str, ce: Section, path: str) -> Section:
        ce_type = ce.get("CEType", "")
        if ce_type not in CE_TYPES:
            self.problems.append((f"{path}/CEType", f"unknown CE type {ce_type!r}; known: "
                                                    f"{', '.join(sorted(CE_TYPES))}"))
        # an unknown type still maps the rest, to report its problems too
        our_type, fixed = CE_TYPES.get(ce_type, ("local", {}))
        out: Section = {"type": our_type, "name": name, **fixed}
        rest = {k: v for k, v in ce.items() if not isinstance(v, dict)}
        take = rest.pop
        queue_defaults = {k: rest.pop(k) for k in list(rest) if k in _QUEUE_KEYS}
        out["tags"] = _split(take("Tag", "")) + _split(take("RequiredTag", ""))
        platform = take("Platform", None) or take("architecture", None)
        if platform:
            out["platform"] = platform
        extra = {"batch": self._batch_ce, "htcondorce": self._htcondor_ce, "arc": self._arc_ce,
                 "cloud": self._cloud_ce}.get(our_type)
        if extra is not None:
            out.update(extra(name, rest, path))
        take("CEType")
        out["options"] = rest
        out["queues"] = {q: self.queue({**queue_defaults, **qs}, f"{path}/Queues/{q}")
                         for q, qs in _sections(ce.get("Queues", {})).items()}
        return out

    def _batch_ce(self, name: str, rest: Section, path: str) -> Section:
        take = rest.pop
        system = take("BatchSystem", "Host")
        if system not in BATCH_SYSTEMS:
            self.problems.append((f"{path}/BatchSystem", f"unknown batch system {system!r}; "
                                  f"known: {', '.join(sorted(BATCH_SYSTEMS))}"))
        out: Section = {"batch_system": BATCH_SYSTEMS.get(system, "fork"),
                        "host": take("SSHHost", name)}
        for key, field in (("SSHUser", "user"), ("SSHKey", "ssh_key"),
                           ("SharedArea", "shared_dir"), ("SubmitOptions", "submit_options")):
            if key in rest:
                out[field] = take(key)
        if "SSHPort" in rest:
            out["port"] = self.num(rest, "SSHPort", path)
            take("SSHPort")
        return out

    def _htcondor_ce(self, name: str, rest: Section, path: str) -> Section:
        out: Section = {"host": name}
        if "UseLocalSchedd" in rest:
            out["use_local_schedd"] = str(rest.pop("UseLocalSchedd")).lower() in _TRUE
        return out

    def _arc_ce(self, name: str, rest: Section, path: str) -> Section:
        out: Section = {"url": f"https://{name}:{rest.pop('Port', '443')}/arex"}
        if "XRSLExtraString" in rest:
            out["xrsl_extra"] = rest.pop("XRSLExtraString")
        return out

    def _cloud_ce(self, name: str, rest: Section, path: str) -> Section:
        take = rest.pop
        out: Section = {"driver": str(take("CloudType", "openstack")).lower(),
                        "image": take("Image", None) or take("ImageName", ""),
                        "flavour": take("FlavorName", None) or take("Instance_Flavor", "")}
        for key, field in (("KeyName", "key_name"), ("Endpoint", "endpoint")):
            if key in rest:
                out[field] = take(key)
        return out

    def queue(self, queue: Section, path: str) -> Section:
        out: Section = {}
        rest = dict(queue)
        for key, (field, scale) in _QUEUE_KEYS.items():
            if key in rest:
                value = self.num(rest, key, path, scale)
                rest.pop(key)
                if value is not None:
                    out[field] = value
        out["tags"] = _split(rest.pop("Tag", "")) + _split(rest.pop("RequiredTag", ""))
        if "Platform" in rest:
            out["platform"] = rest.pop("Platform")
        out["options"] = {k: v for k, v in rest.items() if not isinstance(v, dict)}
        return out

    def storage_element(self, name: str, se: Section, res: Section) -> Section:
        path = f"/Resources/StorageElements/{name}"
        base_name = se.get("BaseSE")
        if base_name:
            base = res.get("StorageElementBases", {}).get(base_name) \
                or res.get("StorageElements", {}).get(base_name)
            if base is None:
                self.problems.append((f"{path}/BaseSE", f"unknown base SE {base_name!r}"))
            else:
                se = _merge(base, se)
        out: Section = {"backend_type": se.get("BackendType", "")}
        if str(se.get("TapeSE", "")).lower() in _TRUE or se.get("SEType", "").startswith("T1"):
            out["medium"] = "tape"
        for access in ("Read", "Write", "Check", "Remove"):
            if f"{access}Access" in se:
                out[f"{access.lower()}_access"] = se[f"{access}Access"]
        readable = set(_split(se.get("AccessProtocols")))
        writable = set(_split(se.get("WriteProtocols")))
        out["protocols"] = [self.protocol(p, s, f"{path}/{p}", readable, writable)
                            for p, s in _sections(se).items()]
        return out

    def protocol(self, section_name: str, sec: Section, path: str,
                 readable: set[str], writable: set[str]) -> Section:
        plugin = sec.get("PluginName", section_name)
        our_type = "gfal2" if plugin.startswith("GFAL2_") else SE_PLUGINS.get(plugin)
        if our_type is None:
            self.problems.append((f"{path}/PluginName", f"unknown storage plugin {plugin!r}; "
                                  f"known: {', '.join(sorted(SE_PLUGINS))}, GFAL2_*"))
            return {"type": "file"}
        rest = {k: v for k, v in sec.items() if not isinstance(v, dict)}
        scheme = rest.pop("Protocol", plugin.removeprefix("GFAL2_").lower())
        out: Section = {"type": our_type, "host": rest.pop("Host", ""),
                        "path": rest.pop("Path", "/") or "/"}
        if rest.get("Port"):
            out["port"] = self.num(rest, "Port", path)
        rest.pop("Port", None)
        if rest.get("Access"):
            out["access"] = rest.pop("Access").lower()
        if rest.get("SpaceToken"):
            out["space_token"] = rest.pop("SpaceToken")
        if readable:
            out["read"] = scheme in readable
        if writable:
            out["write"] = scheme in writable
        if our_type == "gfal2":
            out["protocol"] = scheme
            if rest.get("WSUrl"):
                out["wsurl"] = rest.pop("WSUrl")
        elif our_type == "s3":
            out["bucket"] = out["path"].strip("/").split("/")[0]
        rest.pop("PluginName", None)
        out["options"] = rest
        return out

    def catalog(self, cat: Section, path: str, name: str) -> Section:
        cat_type = cat.get("CatalogType", name)
        if cat_type != "FileCatalog":
            self.problems.append((f"{path}/CatalogType", f"unknown catalog type {cat_type!r}; "
                                                         "known: FileCatalog"))
        access = str(cat.get("AccessType", "Read-Write")).lower()
        rest = {k: v for k, v in cat.items() if not isinstance(v, dict) and k not in
                ("CatalogType", "AccessType", "Status", "Master")}
        return {"type": "sql", **_drop_none({"db_url": self.file_catalog_db_url()}),
                "read": "read" in access, "write": "write" in access,
                "active": str(cat.get("Status", "Active")).lower() == "active",
                "master": str(cat.get("Master", "")).lower() in _TRUE, "options": rest}

    def file_catalog_db_url(self) -> str | None:
        """``mysql+mysqldb://host:port/db`` from FileCatalogDB's section; never the password."""
        dms = self.root.get("Systems", {}).get("DataManagement", {})
        candidates = [dms, *(v for v in dms.values() if isinstance(v, dict))]
        for sec in candidates:
            db = sec.get("Databases", {}).get("FileCatalogDB")
            if db and db.get("Host"):
                return f"mysql+mysqldb://{db['Host']}:{db.get('Port', 3306)}/" \
                       f"{db.get('DBName', 'FileCatalogDB')}"
        return None

    # --- operations ---------------------------------------------------------

    def operations(self, vos: set[str]) -> Section:
        ops: Section = self.root.get("Operations", {})
        out: Section = {"defaults": self.policy(ops.get("Defaults", {}), "/Operations/Defaults")}
        out["vos"] = {vo: self.policy(sec, f"/Operations/{vo}")
                      for vo, sec in _sections(ops).items() if vo in vos}
        return out

    def policy(self, sec: Section, path: str) -> Section:
        out: Section = {}
        sched = sec.get("JobScheduling", {})
        for key, field in (("RunningLimit", "running_limits"), ("MatchingDelay", "matching_delays")):
            if key in sched:
                out[field] = {
                    site: {attr: {value: self.num(values, value, f"{path}/JobScheduling/{key}/"
                                                                 f"{site}/{attr}")
                                  for value in values}
                           for attr, values in _sections(attrs).items()}
                    for site, attrs in _sections(sched[key]).items()}
        desc = sec.get("JobDescription", {})
        for key, field in _POLICY_KEYS.items():
            if key in desc:
                out[field] = self.num(desc, key, f"{path}/JobDescription")
        if "DefaultPlatform" in desc:
            out["default_platform"] = desc["DefaultPlatform"]
        if "AllowedJobTypes" in desc:
            out["allowed_job_types"] = _split(desc["AllowedJobTypes"])
        if "MaxRescheduling" in sec.get("JobScheduling", {}):
            out["max_rescheduling"] = self.num(sched, "MaxRescheduling", f"{path}/JobScheduling")
        if "RescheduleDelays" in sched:
            delays = [self.num({"d": d}, "d", f"{path}/JobScheduling/RescheduleDelays")
                      for d in _split(sched["RescheduleDelays"])]
            out["reschedule_delays"] = delays
        return out


_QUEUE_KEYS = {"maxCPUTime": ("max_cpu_time", 60), "MaxWallTime": ("max_wall_time", 60),
               "SI00": ("si00", 1), "MaxTotalJobs": ("max_total_jobs", 1),
               "MaxWaitingJobs": ("max_waiting_jobs", 1),
               "NumberOfProcessors": ("processors", 1), "MaxRAM": ("max_ram_mb", 1)}
_POLICY_KEYS = {"DefaultCPUTime": "default_cpu_time", "MaxCPUTime": "max_cpu_time",
                "DefaultPriority": "default_priority", "MinPriority": "min_priority",
                "MaxPriority": "max_priority", "MaxParametricJobs": "max_parametric_jobs",
                "MaxInputData": "max_input_files"}


def _sections(sec: Section) -> dict[str, Section]:
    return {k: v for k, v in sec.items() if isinstance(v, dict)}


def _drop_none(d: Section) -> Section:
    return {k: v for k, v in d.items() if v is not None}


def _merge(base: Section, over: Section) -> Section:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and \
            isinstance(out.get(key), dict) else value
    return out


def load_dirac_cfg(path_or_text: str | os.PathLike[str], *, sections: SectionTypes | None = None,
                   source: str | None = None) -> Config:
    """Load a DIRAC ``.cfg`` file (a path, or the text itself when it holds a newline).

    Raises :class:`ConfigError` naming the file and every problem: ``/cfg/paths``
    for values that cannot be mapped, model key paths for the rest.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        text = path_or_text
    else:
        source = str(path_or_text)
        try:
            text = Path(path_or_text).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([("", "file not found")], source=source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([("", f"cannot read the file: {exc}")], source=source) from exc
    try:
        root = CFG().loadFromBuffer(text).getAsDict()
    except Exception as exc:  # diraccfg raises bare exceptions on malformed files
        raise ConfigError([("", f"cannot parse the DIRAC cfg: {exc}")], source=source) from exc
    mapper = _Mapper(root)
    registry = mapper.registry()
    data = {"registry": registry, "resources": mapper.resources(),
            "operations": mapper.operations(set(registry.get("vos", {})))}
    if mapper.problems:
        raise ConfigError(mapper.problems, source=source)
    return structure_config(data, make_converter(sections), source=source)
