"""What a shared cache (a facility's reverse proxy, a CDN) may keep.

Most answers depend on who asks: a member sees embargoed records, a file or
an HDF5 slice that others get a 404 for.  Every answer therefore varies on
``Authorization`` and ``Cookie``, and an answer to a signed-in caller is
``private`` — a shared cache never hands one person's view to the next.
The static assets (the viewer bundle, CSS) are the same for everyone.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pancommons.accounts.sessions import COOKIE


class PrivateAnswers:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        signed_in = b"authorization" in headers or COOKIE.encode() + b"=" in headers.get(b"cookie", b"")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(b"vary", b"Authorization, Cookie")]
                if signed_in and b"cache-control" not in present:
                    extra.append((b"cache-control", b"private"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
