"""The cloud-init user data that carries a pilot into a new VM.

The document is a ``#cloud-config`` (YAML): ``write_files`` puts the pilot
script (gzipped, base64-encoded) and its stamp under :data:`PILOT_DIR`,
``runcmd`` runs it with ``DIRAC_PILOT_STAMP`` set, and ``power_state`` powers
the VM off when it ends, so that the provider reports it stopped. A site's
own cloud-config (the CE section's ``user_data``) is merged in first.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Mapping
from typing import Any

import yaml

from dirac_core.errors import ConfigError

__all__ = ["PILOT_DIR", "build_user_data", "parse_cloud_config"]

#: Where the pilot and its stamp are written on the VM.
PILOT_DIR = "/var/lib/dirac-pilot"


def parse_cloud_config(text: str) -> dict[str, Any]:
    """Parse a site's ``#cloud-config`` document (the section's ``user_data``).

    Raises :class:`ConfigError` unless it is a YAML mapping whose
    ``write_files`` and ``runcmd``, when present, are lists.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([("user_data", f"not valid YAML: {exc}")]) from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError([("user_data", "must be a #cloud-config mapping")])
    for key in ("write_files", "runcmd"):
        if key in doc and not isinstance(doc[key], list):
            raise ConfigError([(f"user_data.{key}", "must be a list")])
    return doc


def build_user_data(executable: str, stamp: str, *, base: Mapping[str, Any] | None = None) -> str:
    """The ``#cloud-config`` user data that runs pilot ``executable`` with ``stamp`` on a new VM.

    ``base`` is the site's own cloud-config (from :func:`parse_cloud_config`):
    its keys are kept, its ``write_files`` and ``runcmd`` entries come before
    ours, and its ``power_state`` replaces ours. The script is stored
    gzipped and base64-encoded (providers limit user data to 16-64 KiB).
    """
    doc = dict(base or {})
    packed = base64.b64encode(gzip.compress(executable.encode(), mtime=0)).decode("ascii")
    doc["write_files"] = [
        *doc.get("write_files", []),
        {"path": f"{PILOT_DIR}/pilot.sh", "owner": "root:root", "permissions": "0755",
         "encoding": "gz+b64", "content": packed},
        {"path": f"{PILOT_DIR}/stamp", "permissions": "0644", "content": f"{stamp}\n"},
    ]
    doc["runcmd"] = [
        *doc.get("runcmd", []),
        ["env", f"DIRAC_PILOT_STAMP={stamp}", "/bin/sh", "-c", f"cd {PILOT_DIR} && exec ./pilot.sh"],
    ]
    doc.setdefault("power_state", {"mode": "poweroff", "condition": True, "delay": "now",
                                   "message": "DIRAC pilot finished"})
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
