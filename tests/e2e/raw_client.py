"""A WebSocket client on a bare socket, for clients no library models: one that never reads,
one that never finishes its handshake."""

from __future__ import annotations

import base64
import os
import socket
import struct
from urllib.parse import urlsplit


def tcp_connection(websocket_url: str, receive_buffer: int | None = None) -> socket.socket:
    parts = urlsplit(websocket_url)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connect, so the window advertised is small
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.settimeout(10)
    raw.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    return raw


def upgraded(websocket_url: str, query: str, receive_buffer: int | None = None) -> socket.socket:
    """A socket past the 101 answer; it reads nothing more unless the caller does."""
    raw = tcp_connection(websocket_url, receive_buffer)
    parts = urlsplit(websocket_url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path}?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    raw.sendall(request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = raw.recv(1)  # byte by byte: nothing past the headers is taken off the socket
        if not chunk:
            raise ConnectionError("closed during the handshake")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(answer.decode(errors="replace"))
    return raw


def text_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it (RFC 6455 5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([0x81, 0x80 | length])
    elif length < 2**16:
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", length)
    else:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked
