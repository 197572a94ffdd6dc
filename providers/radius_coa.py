"""A small RFC 5176 client: Disconnect-Request and CoA-Request to a NAS over UDP.

Only what Centra sends: string, integer and IPv4 attributes (RFC 2865 encoding) and the
Vendor-Specific MikroTik rate limit. The Request Authenticator is MD5(Code + Identifier + Length
+ 16 zero octets + Attributes + Secret) (RFC 5176 §3.4 / RFC 2866); the answer's authenticator
is checked the same way over the request's one, so a forged or misrouted answer is not taken.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import ipaddress
import os
import struct

DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK = 40, 41, 42
COA_REQUEST, COA_ACK, COA_NAK = 43, 44, 45
ACKS = {DISCONNECT_ACK, COA_ACK}

#: name → (type, kind); kind "string" | "integer" | "ipaddr".
ATTRIBUTES = {
    "User-Name": (1, "string"),
    "NAS-IP-Address": (4, "ipaddr"),
    "Framed-IP-Address": (8, "ipaddr"),
    "Session-Timeout": (27, "integer"),
    "Calling-Station-Id": (31, "string"),
    "Acct-Session-Id": (44, "string"),
    "Error-Cause": (101, "integer"),
}
MIKROTIK_VENDOR = 14988
MIKROTIK = {"Mikrotik-Rate-Limit": 8, "Mikrotik-Address-List": 19}


class CoaError(Exception):
    """No valid answer (timeout, a malformed or unauthenticated reply)."""


@dataclasses.dataclass
class Answer:
    code: int
    attributes: dict[int, bytes]

    @property
    def acked(self) -> bool:
        return self.code in ACKS

    @property
    def error_cause(self) -> int | None:
        raw = self.attributes.get(101)
        return struct.unpack("!I", raw)[0] if raw and len(raw) == 4 else None


def _encode_value(kind: str, value: str | int) -> bytes:
    if kind == "integer":
        return struct.pack("!I", int(value))
    if kind == "ipaddr":
        return ipaddress.IPv4Address(str(value)).packed
    data = str(value).encode()
    if len(data) > 253:
        raise ValueError("attribute too long")
    return data


def encode_attributes(attrs: dict[str, str | int]) -> bytes:
    out = b""
    for name, value in attrs.items():
        if name in MIKROTIK:
            data = str(value).encode()
            sub = struct.pack("!BB", MIKROTIK[name], len(data) + 2) + data
            vsa = struct.pack("!I", MIKROTIK_VENDOR) + sub
            out += struct.pack("!BB", 26, len(vsa) + 2) + vsa
            continue
        number, kind = ATTRIBUTES[name]
        data = _encode_value(kind, value)
        out += struct.pack("!BB", number, len(data) + 2) + data
    return out


def decode_attributes(data: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while len(data) >= 2:
        number, length = data[0], data[1]
        if length < 2 or length > len(data):
            raise CoaError("malformed attribute")
        found[number] = data[2:length]
        data = data[length:]
    return found


def build_request(code: int, identifier: int, attrs: dict[str, str | int], secret: bytes) -> bytes:
    body = encode_attributes(attrs)
    length = 20 + len(body)
    authenticator = hashlib.md5(struct.pack("!BBH", code, identifier, length) + bytes(16) + body
                                + secret).digest()
    return struct.pack("!BBH", code, identifier, length) + authenticator + body


def check_answer(packet: bytes, request: bytes, secret: bytes) -> Answer:
    if len(packet) < 20:
        raise CoaError("short answer")
    code, identifier, length = struct.unpack("!BBH", packet[:4])
    if length > len(packet) or length < 20 or identifier != request[1]:
        raise CoaError("answer to another request")
    expected = hashlib.md5(packet[:4] + request[4:20] + packet[20:length] + secret).digest()
    if expected != packet[4:20]:
        raise CoaError("answer not signed with the NAS's secret")
    return Answer(code, decode_attributes(packet[20:length]))


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.answers.put_nowait(data)


async def send(host: str, port: int, secret: str, code: int, attrs: dict[str, str | int], *,
               timeout: float = 2.0, tries: int = 2) -> Answer:
    """Send one request (retransmitted ``tries`` times, the same packet) and return the answer."""
    key = secret.encode()
    request = build_request(code, os.urandom(1)[0], attrs, key)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Exchange, remote_addr=(host, port))
    try:
        for _ in range(tries):
            transport.sendto(request)
            deadline = loop.time() + timeout
            while (left := deadline - loop.time()) > 0:
                try:
                    packet = await asyncio.wait_for(protocol.answers.get(), left)
                except TimeoutError:
                    break
                try:
                    return check_answer(packet, request, key)
                except CoaError:
                    continue  # not ours: keep waiting for the real answer
        raise CoaError(f"no answer from {host}:{port}")
    finally:
        transport.close()
