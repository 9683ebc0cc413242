"""Security headers on every response of the app: `X-Content-Type-Options: nosniff` and
`Referrer-Policy: same-origin` everywhere, and on the pages (/ui) a Content-Security-Policy that
allows only this origin's own scripts, styles and frames (`frame-ancestors 'self'`: the Airflow UI
on the same origin may frame the pages, another site may not)."""

from __future__ import annotations

from starlette._utils import get_route_path
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from automation.api.middleware import HttpMiddleware

#: The pages load one stylesheet and one script from /ui/static, and inline SVG charts; nothing inline.
PAGES_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI middleware adding the headers to every response start (errors included)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        pages = get_route_path(scope).startswith("/ui")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if pages:
                    headers.setdefault("Content-Security-Policy", PAGES_CSP)
            await send(message)

        await self.app(scope, receive, with_headers)
