"""ivr.gunicorn_conf with a fault for tests: one worker stalls right after a reply's first send.

As if the scheduler had put it aside there, so that a test can SIGKILL the web process in that gap.
Only the first TwiML reply (text/xml) stalls, once across every process sharing STALL_MARK, a
file that then holds the worker's pid and whether that first send held the whole reply.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from ivr.gunicorn_conf import *  # noqa: F403  (the line's own settings, its worker class included)

STALL_S = 10.0
_real_sendall = socket.socket.sendall


def _holds_whole_reply(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) == int(value)
    return False


def _stalling_sendall(sock: socket.socket, data: bytes, flags: int = 0) -> None:
    _real_sendall(sock, data, flags)
    head = bytes(data[:1024]).lower()
    if not (head.startswith(b"http/1.1 ") and b"content-type: text/xml" in head):
        return
    try:
        mark = os.open(os.environ["STALL_MARK"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # another reply stalled already
    os.write(mark, f"{os.getpid()} {_holds_whole_reply(bytes(data))}\n".encode())
    os.close(mark)
    time.sleep(STALL_S)


def post_fork(server: Any, worker: Any) -> None:
    """Every worker's sockets stall as above."""
    socket.socket.sendall = _stalling_sendall  # type: ignore[method-assign,assignment]
