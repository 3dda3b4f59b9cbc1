"""Request body size limit, as a pure ASGI middleware answering JSON like every other error.

A declared Content-Length over the limit is refused before the body is read; a body sent without
one (chunked) is counted as it arrives and refused as soon as it passes the limit. (FastAPI's own
`max_body_size` answers in plain text from outside the app's error handlers, hence this.)
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI re-raises it to the app's 413 handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self, status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await self._error(400, f"invalid Content-Length {length!r}")(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await self._error(413, f"request body over the limit of {self.max_bytes} bytes")(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # a route that read the body outside FastAPI's handlers
            if started:
                raise
            await self._error(413, str(exc.detail))(scope, receive, send)
