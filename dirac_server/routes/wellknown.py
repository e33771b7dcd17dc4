"""``/.well-known``: OpenID discovery, the public keys, the VOs (no authentication)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dirac_server.deps import Iw

router = APIRouter(prefix="/.well-known", tags=["well-known"])


@router.get("/openid-configuration")
def openid_configuration(iw: Iw) -> dict[str, Any]:
    """OpenID provider metadata; DiracX's client reads ``token_endpoint``."""
    base = iw.config.auth.issuer.rstrip("/")
    registry = iw.config.registry
    scopes = [*(f"vo:{vo}" for vo in sorted(registry.vos)),
              *(f"group:{g}" for g in sorted(registry.groups)),
              *(f"property:{p}" for p in sorted({p for g in registry.groups.values()
                                                 for p in g.properties}))]
    return {
        "issuer": iw.config.auth.issuer,
        "token_endpoint": f"{base}/api/auth/token",
        "userinfo_endpoint": f"{base}/api/auth/userinfo",
        "authorization_endpoint": f"{base}/api/auth/authorize",
        "device_authorization_endpoint": f"{base}/api/auth/device",
        "revocation_endpoint": f"{base}/api/auth/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["authorization_code",
                                  "urn:ietf:params:oauth:grant-type:device_code",
                                  "refresh_token"],
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
    }


@router.get("/jwks.json")
def jwks(iw: Iw) -> dict[str, Any]:
    """The public keys that verify the server's tokens."""
    return iw.auth.keys.public_jwks()


@router.get("/dirac-metadata")
def dirac_metadata(iw: Iw) -> dict[str, Any]:
    """VOs, their groups and properties, their default group."""
    registry = iw.config.registry
    return {"virtual_organizations": {
        vo.name: {"groups": {g.name: {"properties": sorted(g.properties)}
                             for g in registry.groups.values() if g.vo == vo.name},
                  "support": {"message": vo.description or f"Contact the {vo.name} administrators",
                              "webpage": None, "email": None},
                  "default_group": vo.default_group}
        for vo in registry.vos.values()}}
