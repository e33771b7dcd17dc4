"""Identity and tokens: the interware signs its own JWTs (DiracX's claims), runs the OAuth
device flow, and delegates "who is this person" to an identity-provider plugin."""

from dirac_core.auth.device import DeviceFlowError, DeviceFlows, DeviceStart
from dirac_core.auth.keys import KeyStore
from dirac_core.auth.manager import AuthManager
from dirac_core.auth.passwords import hash_password, verify_password
from dirac_core.auth.scopes import InvalidScope, Scope, parse_scope, resolve
from dirac_core.auth.tokens import TokenPair, TokenService

__all__ = [
    "AuthManager",
    "DeviceFlowError",
    "DeviceFlows",
    "DeviceStart",
    "InvalidScope",
    "KeyStore",
    "Scope",
    "TokenPair",
    "TokenService",
    "hash_password",
    "parse_scope",
    "resolve",
    "verify_password",
]
