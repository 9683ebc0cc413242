"""Airflow's auth for the pages, answered the way a browser needs it.

The checks are Airflow's own (`get_user`, which reads the UI session's `_token` cookie, plus
`requires_access_dag`); `PageRoute` turns their 401 into a redirect to Airflow's login and their
403, our 404s and bad input into an HTML page, so a browser never gets JSON or a traceback.
Form posts also need a CSRF token bound to the user and a same-origin Origin/Referer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from automation.airflow_adapter import access as airflow_access
from automation.airflow_adapter import config as airflow_config
from automation.errors import NotFoundError, StoreError
from automation.pages.render import airflow_base, render

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_S = 12 * 3600


def access(method: Literal["GET", "POST", "PUT", "DELETE"]) -> Any:
    """Airflow's DAG check, on the page's workflow when the path has a `{key}` (airflow_adapter.access)."""
    return airflow_access.dag_access(method)


def run_access(method: Literal["GET", "PUT"]) -> Any:
    """Airflow's check on the runs of the page's workflow's DAG (`DagAccessEntity.RUN`)."""
    return airflow_access.run_access(method)


def user() -> Any:
    """The signed-in user (Airflow's `get_user`: a bearer token, else the UI session cookie)."""
    return airflow_access.current_user()


def allowed(
    user: Any, method: Literal["GET", "POST", "PUT", "DELETE"], key: str | None = None, *, runs: bool = False
) -> bool:
    """What `access(method)` (`run_access(method)` with `runs`) would decide on the workflow `key`'s
    DAG (none: on no workflow yet), to show or hide an action on a page."""
    return airflow_access.allowed(user, method, key, airflow_access.run_entity() if runs else None)


def login_url(request: Request) -> str:
    next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{airflow_base()}/api/v2/auth/login?{urlencode({'next': next_path})}"


def _error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    return render(request, "error.html", status_code=status_code, title=title, message=message)


class PageRoute(APIRoute):
    """An HTML route: errors become pages (or the login redirect), never JSON or a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code == 401:
                    return RedirectResponse(login_url(request), status_code=303)
                if exc.status_code == 403:
                    message = exc.detail if exc.detail != "Forbidden" else "Your Airflow role does not allow this."
                    return _error_page(request, 403, "Not allowed", str(message))
                return _error_page(request, exc.status_code, "Something is wrong", str(exc.detail))
            except RequestValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
                return _error_page(request, 400, "Bad request", problems)
            except NotFoundError as exc:
                return _error_page(request, 404, "Not found", str(exc))
            except StoreError as exc:
                log.warning("page %s: %s", request.url.path, exc)
                return _error_page(request, 503, "Unavailable", "The automation database cannot be reached; try again.")

        return page_handler


def _secret() -> bytes:
    return ("automation-pages-csrf:" + airflow_config.api_secret()).encode()


def _sign(user_id: str, issued: int) -> str:
    return hmac.new(_secret(), f"{user_id}|{issued}".encode(), hashlib.sha256).hexdigest()


def csrf_token(user: Any, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_sign(str(user.get_id()), issued)}"


def csrf_valid(token: str, user: Any, now: float | None = None) -> bool:
    issued_text, _, signature = token.partition(".")
    if not issued_text.isdigit() or not signature:
        return False
    issued = int(issued_text)
    age = (now if now is not None else time.time()) - issued
    return 0 <= age <= CSRF_MAX_AGE_S and hmac.compare_digest(signature, _sign(str(user.get_id()), issued))


def same_origin(request: Request) -> bool:
    """The form was posted from a page of this host (Origin, or Referer when a browser omits Origin)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return (parts.scheme, parts.netloc) == (request.url.scheme, request.url.netloc)


def check_form_post(request: Request, user: Any, token: str) -> None:
    """A state-changing form post needs the UI's cookie session, a same-origin source and our token."""
    if (
        not request.cookies.get(airflow_access.session_cookie_name())
        or not same_origin(request)
        or not csrf_valid(token, user)
    ):
        raise HTTPException(403, "This form is out of date or was sent from another site: reload it and try again.")
