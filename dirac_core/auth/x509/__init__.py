"""X.509 proxies: RFC 3820 proxy certificates, VOMS-like attributes, chain verification.

- :mod:`~dirac_core.auth.x509.proxy`: make a proxy from a user certificate or
  another proxy, and read/write the single PEM proxy file;
- :mod:`~dirac_core.auth.x509.attributes`: the VO/group/FQAN request a proxy
  carries (our own extension; real VOMS ACs are not supported);
- :mod:`~dirac_core.auth.x509.verify`: check a presented chain against the
  trusted CAs (:class:`TrustStore`), raising :class:`~dirac_core.errors.InvalidProxy`;
- :mod:`~dirac_core.auth.x509.names`: grid slash-form DNs;
- :mod:`~dirac_core.auth.x509.login`: the server side of a proxy login.
"""

from dirac_core.auth.x509.attributes import ATTRIBUTES_OID, ProxyAttributes
from dirac_core.auth.x509.names import grid_dn, parse_grid_dn
from dirac_core.auth.x509.proxy import PROXY_CERT_INFO_OID, ProxyCredential, create_proxy, load_credential
from dirac_core.auth.x509.trust import TrustStore
from dirac_core.auth.x509.verify import ProxyProblem, VerifiedChain, verify_chain

__all__ = [
    "ATTRIBUTES_OID",
    "PROXY_CERT_INFO_OID",
    "ProxyAttributes",
    "ProxyCredential",
    "ProxyProblem",
    "TrustStore",
    "VerifiedChain",
    "create_proxy",
    "grid_dn",
    "load_credential",
    "parse_grid_dn",
    "verify_chain",
]
