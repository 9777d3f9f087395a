"""One HTTP GET to a Docker daemon over a channel of the host's SSH connection, without docker-py.

Listing containers is all ``ps`` asks of a host; docker-py with requests and urllib3 costs about a
tenth of a second of CPU to load, a third of what ``ps`` spends in all on a quiet machine. The GET is
HTTP/1.1 with ``Connection: close`` on a channel of its own (docker_channel.py): the answer ends at its
Content-Length, at the last chunk of a chunked body, or when the daemon closes the channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Optional

MAX_ANSWER = 64 * 1024 * 1024  # far more than any listing; a daemon that sends more is not believed


class BadAnswer(Exception):
    """The daemon's answer is not HTTP this module understands, or it refused the request."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: Dict[str, str]  # names in lower case
    body: bytes


def request(path: str) -> bytes:
    """The bytes of a GET of ``path`` (which must be a plain path and query)."""
    if not path.startswith("/") or any(c in path for c in " \r\n"):
        raise ValueError(f"not a request path: {path!r}")
    return (f"GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: nap-compose\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n").encode("ascii")


def parse_answer(data: bytes, ended: bool) -> Optional[Answer]:
    """The answer in ``data`` once it is whole, else None (more is to come); ``ended``: the daemon
    closed the channel, so what came is all there is. Raises BadAnswer when it can never be whole."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        if ended:
            raise BadAnswer("the answer ended before its headers did")
        return None
    lines = data[:head_end].decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadAnswer(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise BadAnswer(f"not an HTTP header: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    rest = data[head_end + 4:]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(rest, ended)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise BadAnswer(f"not a Content-Length: {headers['content-length']!r}") from None
        if len(rest) < length:
            if ended:
                raise BadAnswer(f"the answer ended after {len(rest)} of its {length} bytes")
            return None
        body = rest[:length]
    else:
        body = rest if ended else None
    if body is None:
        return None
    return Answer(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body)


def _dechunk(data: bytes, ended: bool) -> Optional[bytes]:
    """The body of a chunked transfer once its last chunk came, else None."""
    body, at = [], 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            break
        size_text = data[at:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadAnswer(f"not a chunk size: {size_text[:20]!r}") from None
        if size == 0:
            return b"".join(body)  # trailers, if any, are not read
        start, end = line_end + 2, line_end + 2 + size
        if len(data) < end + 2:
            break
        body.append(data[start:end])
        at = end + 2
    if ended:
        raise BadAnswer("the answer ended before its last chunk")
    return None


def get_json(channel, path: str):
    """GET ``path`` on ``channel`` (a connected socket-like object: sendall, recv) and return the
    JSON it answers. A refusal (status 400 and up) raises BadAnswer with the daemon's own message,
    as docker-py's APIError says it; the channel's own errors (timeouts, a closed connection)
    propagate as they are."""
    channel.sendall(request(path))
    data = b""
    while True:
        piece = channel.recv(65536)
        ended = not piece
        data += piece
        if len(data) > MAX_ANSWER:
            raise BadAnswer(f"the answer is larger than {MAX_ANSWER} bytes")
        answer = parse_answer(data, ended)
        if answer is not None:
            break
    try:
        value = json.loads(answer.body.decode("utf-8")) if answer.body else None
    except ValueError as exc:
        if answer.status >= 400:
            raise BadAnswer(f"{answer.status} {answer.reason}".strip()) from None
        raise BadAnswer(f"the answer is not JSON: {exc}") from None
    if answer.status >= 400:
        message = value.get("message") if isinstance(value, dict) else None
        raise BadAnswer(str(message or f"{answer.status} {answer.reason}".strip()))
    return value
