"""uvicorn's HTTP protocol with its one app-less error, 400, answered in JSON like every other error.

A request whose line and headers the parser refuses (malformed, or longer than llhttp's limit of
some 64 KB: a 100,000-character query string, say) never reaches the app, so the app's handlers
cannot shape the answer; uvicorn writes `Invalid HTTP request received.` as text/plain. These
subclasses only replace how that answer is written (`serve` passes them as uvicorn's `http`).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

DETAIL = (
    "invalid HTTP request: malformed, or its request line and headers are too long "
    "(a query string that long is over every limit of this API)"
)
BODY = json.dumps({"detail": DETAIL}).encode()
# The headers the app's SecurityHeaders middleware gives every JSON error.
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"connection", b"close"),
]


class JsonErrorsH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in HEADERS) + b"\r\n" + BODY)
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional in uvicorn; h11 is always there
    HttpToolsProtocol = None  # type: ignore[assignment, misc]

if HttpToolsProtocol is not None:

    class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[valid-type, misc]
        def send_400_response(self, msg: str) -> None:
            lines = [b"HTTP/1.1 400 Bad Request\r\n"]
            lines += [n + b": " + v + b"\r\n" for n, v in self.server_state.default_headers]  # the Date header
            lines += [n + b": " + v + b"\r\n" for n, v in HEADERS]
            self.transport.write(b"".join(lines) + b"\r\n" + BODY)
            self.transport.close()

    PROTOCOL: type = JsonErrorsHttpToolsProtocol  # uvicorn's `auto` choice when httptools is installed
else:
    PROTOCOL = JsonErrorsH11Protocol
