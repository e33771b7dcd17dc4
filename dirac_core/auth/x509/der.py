"""The few DER encodings the proxy extensions need (RFC 3820's ProxyCertInfo, our attributes).

``cryptography`` carries extensions it does not know as raw bytes
(:class:`~cryptography.x509.UnrecognizedExtension`), so their ASN.1 is
written and read here. The reader is strict DER: definite lengths in their
shortest form, nothing left over; any deviation raises ``ValueError``.
"""

from __future__ import annotations

__all__ = ["INTEGER", "OCTET_STRING", "OID", "SEQUENCE", "UTF8_STRING", "decode_integer", "decode_oid",
           "encode_integer", "encode_oid", "read_all", "tlv"]

INTEGER = 0x02
OCTET_STRING = 0x04
OID = 0x06
UTF8_STRING = 0x0C
SEQUENCE = 0x30
_MAX_LENGTH = 1 << 20  # an extension is small; refuse anything larger outright


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: ``tag``, length, ``content``."""
    return bytes([tag]) + _length(len(content)) + content


def encode_integer(value: int) -> bytes:
    """An INTEGER element (non-negative values only: all this module needs)."""
    if value < 0:
        raise ValueError("negative INTEGER")
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER element from its dotted form."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError(f"not an OID: {dotted!r}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def _read(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """The element at ``offset``: (tag, content, offset after it)."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not used here")
    offset += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("bad DER length")
        size = int.from_bytes(data[offset:offset + count], "big")
        if size < 0x80 or data[offset] == 0:
            raise ValueError("DER length not in its shortest form")
        offset += count
    if size > _MAX_LENGTH or offset + size > len(data):
        raise ValueError("truncated DER")
    return tag, data[offset:offset + size], offset + size


def read_all(data: bytes) -> list[tuple[int, bytes]]:
    """Every element of ``data`` in order, as (tag, content); ``data`` must hold nothing else."""
    found = []
    offset = 0
    while offset < len(data):
        tag, content, offset = _read(data, offset)
        found.append((tag, content))
    return found


def decode_integer(content: bytes) -> int:
    """The value of an INTEGER's content (non-negative, minimal form)."""
    if not content or (len(content) > 1 and content[0] == 0 and content[1] < 0x80) or content[0] & 0x80:
        raise ValueError("bad or negative DER INTEGER")
    return int.from_bytes(content, "big")


def decode_oid(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content."""
    if not content or content[-1] & 0x80:
        raise ValueError("bad DER OID")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(content):
        if value == 0 and byte == 0x80 and (i == 0 or not content[i - 1] & 0x80):
            raise ValueError("DER OID arc not in its shortest form")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(arc) for arc in [*head, *arcs[1:]])
