"""The adb transport protocol's message framing, as AOSP's `adb/protocol.txt` defines it.

A message is a 24-byte header of six little-endian uint32 — command, arg0, arg1,
data_length, data_check, magic (= command ^ 0xffffffff) — followed by
`data_length` bytes of payload. `data_check` is called crc32 in the document but
has always been the byte sum of the payload. Peers at `VERSION_SKIP_CHECKSUM` send 0
— an adb server reconnecting a transport sends its CNXN that way too — so a zero
check is accepted, a nonzero one must match until a version that skips checksums
has been negotiated, and after that it is not looked at.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453

VERSION_MIN = 0x01000000
VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4096

HEADER = struct.Struct("<6I")
KNOWN = frozenset({A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_CLSE, A_WRTE, A_STLS})
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE"}
NAMES |= {A_WRTE: "WRTE", A_STLS: "STLS"}


class ProtocolError(Exception):
    """A header or payload that breaks the protocol; the connection must be closed."""


class ConnectionClosed(Exception):
    """The peer closed the connection, between messages or in the middle of one."""


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, f"0x{self.command:08x}")

    def __repr__(self) -> str:
        return f"{self.name}({self.arg0}, {self.arg1}, {self.data[:40]!r}{'…' if len(self.data) > 40 else ''})"


def checksum(data: bytes) -> int:
    return sum(data) & 0xFFFFFFFF


def pack(message: Message, *, with_checksum: bool = True) -> bytes:
    check = checksum(message.data) if with_checksum else 0
    magic = message.command ^ 0xFFFFFFFF
    header = HEADER.pack(message.command, message.arg0, message.arg1, len(message.data), check, magic)
    return header + message.data


def parse_header(header: bytes, *, max_payload: int = MAX_PAYLOAD) -> tuple[int, int, int, int, int]:
    """Command, arg0, arg1, data length and data check of a header that is well-formed."""
    command, arg0, arg1, length, check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"Bad magic 0x{magic:08x} for command 0x{command:08x}.")
    if command not in KNOWN:
        raise ProtocolError(f"Unknown command 0x{command:08x}.")
    if length > max_payload:
        raise ProtocolError(f"Payload of {length} bytes is over the {max_payload}-byte limit.")
    return command, arg0, arg1, length, check


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            raise ConnectionClosed(f"Connection closed with {missing} of {size} bytes unread.")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket, *, verify_checksum: bool, max_payload: int = MAX_PAYLOAD) -> Message:
    """The next message; `ProtocolError` for a malformed one, `ConnectionClosed` at end of stream.

    With `verify_checksum`, a nonzero `data_check` must be the payload's byte sum.
    """
    command, arg0, arg1, length, check = parse_header(_read_exactly(sock, HEADER.size), max_payload=max_payload)
    data = _read_exactly(sock, length) if length else b""
    if verify_checksum and check != 0 and checksum(data) != check:
        raise ProtocolError(f"Payload checksum 0x{checksum(data):08x} does not match the header's 0x{check:08x}.")
    return Message(command, arg0, arg1, data)


def banner(*, product: str, model: str, device: str, features: list[str]) -> bytes:
    """The device's CNXN identity string, `device::<properties>` (no serial: adb names TCP devices by address)."""
    props = {"ro.product.name": product, "ro.product.model": model, "ro.product.device": device}
    body = "".join(f"{key}={value};" for key, value in props.items()) + "features=" + ",".join(features)
    return f"device::{body}".encode()
