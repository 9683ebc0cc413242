"""One poll of a `poll` workflow: a GET through an Airflow HTTP connection, the items at a JSON path,
each item not seen before one ledger event (idempotency key `poll:<workflow key>:<item id>`), so each
item starts one run of the workflow's DAG, however many polls (overlapping, retried, after a restart)
return it.

Invariant: the request goes only to the connection's host, through the egress allow-list, connected to
the checked address (`actions.http_request`'s redirect-following sender: credentials never leave the
origin); the response is bounded (`MAX_RESPONSE_BYTES`, `files.MAX_NESTING`), one poll stores at most
the trigger's `max_items` events, and a poll's events and its cursor are committed together
(`store.poll_cursors`). A dry run (`preview`) makes the same request and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from automation.definitions import Workflow
from automation.definitions.files import NestingError, load_json
from automation.definitions.triggers import POLL_ENTITY, PollTrigger
from automation.errors import ActionError, PermanentActionError
from automation.jsonable import to_jsonable
from automation.net.http_connection import HttpConnection, http_connection
from automation.store.ledger import EventLedger
from automation.store.poll_cursors import PollCursors, later

#: The most bytes of a response a poll reads (the HTTP step's capture bound); a larger page is an error
#: that names the fix (a page-size parameter).
MAX_RESPONSE_BYTES = 1_048_576
#: An item id longer than this cannot be an idempotency key (`events.idempotency_key` is 200 long).
MAX_ID_CHARS = 128
#: How many refused items a poll names in its log and result (it counts them all).
MAX_NAMED_REFUSALS = 5
#: How many new items' ids a poll's result lists, and how many new items a dry run shows in full.
MAX_LISTED_IDS = 100
MAX_PREVIEW_ITEMS = 5


def json_at(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path (`data.items`, `results.0.id`; "" is the document): a name reads
    an object's member, a number also a list's index."""
    value = document
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def scope(trigger: PollTrigger) -> str:
    """What a kept cursor belongs to: the same connection, path, parameters and cursor field."""
    assert trigger.cursor is not None
    params = "&".join(f"{k}={v}" for k, v in sorted(trigger.params.items()))
    return f"{trigger.conn_id} {trigger.path}?{params} {trigger.cursor.field}->{trigger.cursor.param}"


def _param(value: Any) -> str:
    """A cursor value as a query parameter: text as it is, a number in JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def request_url(trigger: PollTrigger, conn: HttpConnection, cursor: Any) -> str:
    """The connection's base URL + `path`, with `params` and the cursor parameter (when one is kept)."""
    url = conn.url_for(trigger.path)
    params: dict[str, Any] = dict(trigger.params)
    if trigger.cursor is not None and cursor is not None:
        params[trigger.cursor.param] = _param(cursor)
    try:
        return str(httpx.URL(url).copy_merge_params(params)) if params else str(httpx.URL(url))
    except httpx.InvalidURL as exc:
        raise PermanentActionError(f"path {trigger.path!r} on connection {trigger.conn_id!r}: {exc}") from None


def fetch(trigger: PollTrigger, cursor: Any) -> tuple[str, Any]:
    """(url, parsed JSON body) of one poll: a GET through the connection, following allowed redirects.
    Network errors, 5xx and 429 are retryable (`ActionError`); other statuses, a body over
    `MAX_RESPONSE_BYTES` and a body that is not JSON are not."""
    from automation.actions.http_request import ALWAYS_SECRET, HttpRequest
    from automation.net.pinned import PinnedTransport, Pins

    conn = http_connection(trigger.conn_id)
    url = request_url(trigger, conn, cursor)
    headers = httpx.Headers({"User-Agent": "airflow-automations", "Accept": "application/json", **conn.headers})
    secret = frozenset({*ALWAYS_SECRET, *(name.lower() for name in conn.headers)})
    pins = Pins()
    with httpx.Client(transport=PinnedTransport(pins), timeout=trigger.timeout, follow_redirects=False,
                      trust_env=False) as client:  # fmt: skip
        try:
            # the HTTP step's sender: each hop checked against the allow-list and pinned, secrets kept home
            reply = HttpRequest().send_following_redirects(client, pins, url, "GET", b"", headers, secret)
        except httpx.HTTPError as exc:
            raise ActionError(f"GET {url}: {type(exc).__name__}: {exc}") from None
    status = reply.response.status_code
    if not reply.response.is_success:
        message = f"GET {url} returned {status}: {reply.text[:300]}"
        raise ActionError(message) if status == 429 or status >= 500 else PermanentActionError(message)
    if not reply.complete or reply.size > MAX_RESPONSE_BYTES:
        raise PermanentActionError(
            f"GET {url}: the response is over {MAX_RESPONSE_BYTES} bytes; ask for smaller pages "
            "(a page-size parameter in the trigger's params)"
        )
    try:
        return url, load_json(reply.text)
    except NestingError as exc:
        raise PermanentActionError(f"GET {url}: the response is {exc}") from None
    except ValueError:
        raise PermanentActionError(f"GET {url}: the response is not JSON: {reply.text[:200]!r}") from None


@dataclass
class Page:
    """The items of one response, each with its id, and what was left out."""

    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: why items were left out (no id, not an object...), the first MAX_NAMED_REFUSALS of them
    refused: list[str] = field(default_factory=list)
    refused_count: int = 0
    #: items after the first `max_items` (a later poll returns them)
    over_limit: int = 0
    #: the greatest cursor value among the items kept (None: no cursor, or none had one)
    cursor: Any = None


def _item_id(item: Any, trigger: PollTrigger) -> str:
    if not isinstance(item, dict):
        raise ValueError(f"an item is a {type(item).__name__}, not an object")
    found, value = json_at(item, trigger.id_field)
    if not found or value is None or value == "":
        raise ValueError(f"no {trigger.id_field!r}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{trigger.id_field!r} is a {type(value).__name__}, not text or an integer")
    text = str(value)
    if len(text) > MAX_ID_CHARS:
        raise ValueError(f"{trigger.id_field!r} is longer than {MAX_ID_CHARS} characters")
    return text


def _cursor_value(item: dict[str, Any], trigger: PollTrigger) -> Any:
    assert trigger.cursor is not None
    found, value = json_at(item, trigger.cursor.field)
    if not found or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return value


def page_items(trigger: PollTrigger, body: Any) -> Page:
    """The items of a response at `items_path` (a list; else a permanent error naming the path), each
    with its id; an item without a usable id is refused (counted and named), not stored."""
    found, items = json_at(body, trigger.items_path)
    where = repr(trigger.items_path) if trigger.items_path else "the response body"
    if not found:
        raise PermanentActionError(f"items_path: nothing at {where} in the response")
    if not isinstance(items, list):
        raise PermanentActionError(f"items_path: {where} is a {type(items).__name__}, not a list of items")
    page = Page(over_limit=max(0, len(items) - trigger.max_items))
    for index, item in enumerate(items[: trigger.max_items]):
        try:
            page.items.append((_item_id(item, trigger), item))
        except ValueError as exc:
            page.refused_count += 1
            if len(page.refused) < MAX_NAMED_REFUSALS:
                page.refused.append(f"item {index}: {exc}")
            continue
        if trigger.cursor is not None:
            page.cursor = later(page.cursor, _cursor_value(item, trigger))
    return page


def idempotency_key(workflow_key: str, item_id: str) -> str:
    """One event per (workflow, item id): a later poll returning the item stores nothing."""
    return f"poll:{workflow_key}:{item_id}"


def poll_rows(workflow_key: str, page: Page) -> list[dict[str, Any]]:
    """The ledger rows of a page's items: entity `poll`, event the workflow key, the item as `new`."""
    return [
        {"idempotency_key": idempotency_key(workflow_key, item_id), "entity": POLL_ENTITY, "entity_id": item_id,
         "event": workflow_key, "new_data": to_jsonable(item), "actor": f"poll:{workflow_key}", "source": "poll"}
        for item_id, item in page.items
    ]  # fmt: skip


def _trigger_of(workflow: Workflow) -> PollTrigger:
    trigger = workflow.trigger
    if not isinstance(trigger, PollTrigger):
        raise PermanentActionError(f"workflow {workflow.key!r} is not triggered by a poll")
    return trigger


def kept_cursor(workflow: Workflow, cursors: PollCursors | None = None) -> Any:
    trigger = _trigger_of(workflow)
    return None if trigger.cursor is None else (cursors or PollCursors()).get(workflow.key, scope(trigger))


def poll(workflow: Workflow, cursors: PollCursors | None = None) -> dict[str, Any]:
    """One poll: fetch from the kept cursor, store each new item's event and the new cursor together."""
    trigger, cursors = _trigger_of(workflow), cursors or PollCursors()
    cursor = kept_cursor(workflow, cursors)
    url, body = fetch(trigger, cursor)
    page = page_items(trigger, body)
    rows = poll_rows(workflow.key, page)
    stored = cursors.store_poll(workflow.key, scope(trigger) if trigger.cursor else "", rows, page.cursor)
    new = [item_id for (item_id, _), (_, created) in zip(page.items, stored, strict=True) if created]
    return {
        "url": url, "cursor_sent": cursor, "items": len(page.items), "new": len(new), "new_ids": new[:MAX_LISTED_IDS],
        "seen": len(page.items) - len(new), "refused": page.refused_count, "refusals": page.refused,
        "over_limit": page.over_limit, "cursor": later(cursor, page.cursor),
    }  # fmt: skip


def preview(workflow: Workflow) -> dict[str, Any]:
    """What a poll now would do, written nowhere: the same request (from the kept cursor), then which
    items would be new (no event yet) and which were already seen, with the items that would be new."""
    trigger = _trigger_of(workflow)
    cursor = kept_cursor(workflow)
    url, body = fetch(trigger, cursor)
    page = page_items(trigger, body)
    known = EventLedger().ids([idempotency_key(workflow.key, item_id) for item_id, _ in page.items])
    new = [(i, item) for i, item in page.items if idempotency_key(workflow.key, i) not in known]
    return {
        "url": url, "cursor_sent": cursor, "items": len(page.items),
        "new": [i for i, _ in new], "seen": [i for i, _ in page.items if idempotency_key(workflow.key, i) in known],
        "new_items": [item for _, item in new[:MAX_PREVIEW_ITEMS]], "refused": page.refused_count,
        "refusals": page.refused, "over_limit": page.over_limit, "cursor": later(cursor, page.cursor),
    }  # fmt: skip


def sample_event(workflow_key: str, item_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A dry run's sample event for one polled item, as its ledger event gives it to the run."""
    return {"entity": POLL_ENTITY, "event": workflow_key, "id": item_id, "new": item}
