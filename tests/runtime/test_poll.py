"""Poll triggers (runtime/poll.py): a loopback API returning pages of items, polled through an Airflow
HTTP connection (`AIRFLOW_CONN_*`) against the real Postgres ledger; each item becomes one event however
many polls (repeated, overlapping, concurrent, after a restart) return it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from automation.cli.main import main as cli_main
from automation.definitions import Workflow
from automation.errors import ActionError, DefinitionError, PermanentActionError
from automation.net.egress import EgressDenied
from automation.runtime.poll import json_at, page_items, poll
from automation.services.dry_run import dry_run
from automation.store.db import engine
from automation.store.poll_cursors import PollCursors, later
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import Recorded, http_server

TOKEN = "poll-secret-token"


def poll_workflow(key: str = "feed", steps: list[dict[str, Any]] | None = None, **trigger: Any) -> Workflow:
    spec = {"type": "poll", "conn_id": "feed_api", "path": "/items", "items_path": "data.items", **trigger}
    return validate_definition(workflow(key, trigger=spec, **({"steps": steps} if steps is not None else {})))


def item(n: int) -> dict[str, Any]:
    return {"id": n, "name": f"item {n}", "updated_at": f"2026-12-01T10:{n:02d}:00Z"}


class FeedApi:
    """Pages of `items` in `updated_at` order: those at or after `?since=` (the last one seen comes
    back: the overlap every since-cursor API has), `?limit=` at most; or `window` (first, last) when
    set, whatever the query."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.window: tuple[int, int] | None = None

    def respond(self, request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, b'{"error": "who are you?"}'
        if self.window is not None:
            page = [item(n) for n in range(self.window[0], self.window[1] + 1)]
        else:
            page = [i for i in self.items if i["updated_at"] >= query.get("since", "")]
            page = page[: int(query.get("limit", 100))]
        return 200, {}, json.dumps({"data": {"items": page}}).encode()


@pytest.fixture
def feed(db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FeedApi, list[Recorded]]]:
    """The API on loopback, the connection `feed_api` to it (a bearer token) and no cursor kept."""
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.poll_cursors"))
    api = FeedApi()
    with http_server(api.respond) as (requests, base):
        monkeypatch.setenv("AIRFLOW_CONN_FEED_API", json.dumps({"conn_type": "http", "host": base, "password": TOKEN}))
        monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
        yield api, requests


def stored_items(key: str = "feed") -> list[tuple[str, dict[str, Any]]]:
    with engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT entity_id, new_data FROM automation.events WHERE entity = 'poll' AND event = :key ORDER BY id"
            ),
            {"key": key},
        )
        return [(r.entity_id, r.new_data) for r in rows]


def test_two_polls_with_overlapping_results_store_each_item_once(feed: tuple[FeedApi, list[Recorded]]) -> None:
    api, requests = feed
    wf = poll_workflow()
    api.window = (1, 3)
    first = poll(wf)
    api.window = (2, 5)
    second = poll(wf)
    assert (first["new"], first["seen"]) == (3, 0)
    assert (second["new"], second["seen"], second["new_ids"]) == (2, 2, ["4", "5"])
    assert stored_items() == [(str(n), item(n)) for n in range(1, 6)]
    assert poll(wf)["new"] == 0  # a restart polls the same page: nothing new
    assert len(stored_items()) == 5
    assert {r.headers["Authorization"] for r in requests} == {f"Bearer {TOKEN}"}  # the connection's auth
    assert TOKEN not in json.dumps([first, second])


def test_the_cursor_is_sent_back_and_kept_across_restarts(feed: tuple[FeedApi, list[Recorded]]) -> None:
    api, requests = feed
    wf = poll_workflow(params={"limit": 2}, cursor={"field": "updated_at", "param": "since"})
    api.items = [item(n) for n in range(1, 6)]
    results = [poll(wf) for _ in range(4)]
    # pages of 2 from the greatest updated_at seen, which comes back each time (the API's overlap)
    assert [r["new_ids"] for r in results] == [["1", "2"], ["3"], ["4"], ["5"]]
    sent = [parse_qs(urlsplit(r.path).query).get("since") for r in requests]
    assert sent == [None, [item(2)["updated_at"]], [item(3)["updated_at"]], [item(4)["updated_at"]]]
    assert PollCursors().get("feed", "feed_api /items?limit=2 updated_at->since") == item(5)["updated_at"]
    assert stored_items() == [(str(n), item(n)) for n in range(1, 6)]
    # another request (other params) does not start from this cursor: everything is re-read, nothing repeats
    wider = poll_workflow(params={"limit": 10}, cursor={"field": "updated_at", "param": "since"})
    again = poll(wider)
    assert (again["cursor_sent"], again["new"], again["seen"]) == (None, 0, 5)


def test_concurrent_polls_store_each_item_once(feed: tuple[FeedApi, list[Recorded]]) -> None:
    api, _ = feed
    api.window = (1, 40)
    wf = poll_workflow()
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(poll(wf))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["new"] for r in results) == 40
    assert sorted(int(i) for i, _ in stored_items()) == list(range(1, 41))


def test_the_cursor_only_moves_forward() -> None:
    assert later(None, "2026-01-02") == "2026-01-02"
    assert later("2026-01-02", "2026-01-01") == "2026-01-02"
    assert later(9, 10.5) == 10.5
    assert later(10, None) == 10


def test_items_without_a_usable_id_are_left_out_and_counted() -> None:
    wf = poll_workflow(max_items=4, cursor={"field": "meta.seq", "param": "after"}, id_field="meta.id")
    body = {"data": {"items": [
        {"meta": {"id": "a", "seq": 3}}, {"meta": {"seq": 9}}, "text", {"meta": {"id": "x" * 129, "seq": 8}},
        {"meta": {"id": 7, "seq": 4}}, {"meta": {"id": "late", "seq": 99}},
    ]}}  # fmt: skip
    page = page_items(wf.trigger, body)  # type: ignore[arg-type]
    assert [i for i, _ in page.items] == ["a"]
    assert page.refused == ["item 1: no 'meta.id'", "item 2: an item is a str, not an object",
                            "item 3: 'meta.id' is longer than 128 characters"]  # fmt: skip
    assert (page.refused_count, page.over_limit, page.cursor) == (3, 2, 3)  # the cursor of the items kept only
    assert json_at({"a": [{"b": 1}]}, "a.0.b") == (True, 1)
    assert json_at({"a": [1]}, "a.1") == (False, None)


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        ((200, b'{"data": {"items": {"id": 1}}}'), PermanentActionError, "items_path: 'data.items' is a dict"),
        ((200, b'{"data": {}}'), PermanentActionError, "items_path: nothing at 'data.items'"),
        ((200, b"<html>"), PermanentActionError, "not JSON"),
        ((200, b"[" * 100 + b"]" * 100), PermanentActionError, "nested deeper than 64"),
        ((200, b'{"x": "' + b"y" * 1_100_000 + b'"}'), PermanentActionError, "over 1048576 bytes"),
        ((404, b"{}"), PermanentActionError, "returned 404"),
        ((503, b"{}"), ActionError, "returned 503"),
    ],
)
def test_a_bad_response_fails_the_poll_naming_what_to_fix(
    db: None, monkeypatch: pytest.MonkeyPatch, response: tuple[int, bytes], error: type, message: str
) -> None:
    with http_server(lambda r, n: (response[0], {}, response[1])) as (_, base):
        monkeypatch.setenv("AIRFLOW_CONN_FEED_API", json.dumps({"conn_type": "http", "host": base}))
        monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
        with pytest.raises(error, match=message) as raised:
            poll(poll_workflow())
    assert isinstance(raised.value, PermanentActionError) == (response[0] != 503)
    assert stored_items() == []


def test_a_host_outside_the_allow_list_is_never_called(
    feed: tuple[FeedApi, list[Recorded]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "api.example.com")
    with pytest.raises(EgressDenied, match="not in the allow-list"):
        poll(poll_workflow())
    assert feed[1] == []


@pytest.mark.parametrize(
    ("trigger", "path", "message"),
    [
        ({"params": {"api_key": "abc123"}}, "trigger.params", "holds a credential"),
        ({"path": "https://other.example.com/items"}, "trigger.path", "not a URL"),
        ({"items_path": "data[0]"}, "trigger.items_path", "joined by dots"),
        ({"conn_id": "{{ trigger.x }}"}, "trigger.conn_id", "not a template"),
        ({"cursor": {"field": "updated_at"}}, "trigger.cursor.param", "required field is missing"),
        ({"max_items": 10_001}, "trigger.max_items", "less than or equal to 10000"),
    ],
)
def test_a_bad_poll_trigger_is_refused_at_its_path(trigger: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        poll_workflow(**trigger)
    assert [issue.path for issue in raised.value.issues] == [path]
    assert message in raised.value.issues[0].message


def test_steps_see_the_item_as_trigger_item_and_the_check_knows_it() -> None:
    steps = [{"id": "t", "type": "create_task", "config": {"title": "{{ trigger.item.name }} ({{ trigger.id }})"}}]
    poll_workflow(steps=steps)
    bad = [{"id": "t", "type": "create_task", "config": {"title": "{{ trigger.body.name }}"}}]
    with pytest.raises(DefinitionError, match=r"steps\[0\].config.title: unknown name 'trigger.body'.*trigger.item"):
        poll_workflow(steps=bad)


def test_a_dry_run_polls_shows_new_and_seen_items_and_stores_nothing(
    feed: tuple[FeedApi, list[Recorded]], capsys: pytest.CaptureFixture[str]
) -> None:
    api, _ = feed
    steps = [
        {"id": "t", "type": "create_task", "config": {"title": "Follow up {{ trigger.item.name }} #{{ trigger.id }}"}}
    ]
    Repository().create(poll_workflow(steps=steps, cursor={"field": "updated_at", "param": "since"}))
    api.items = [item(n) for n in range(1, 4)]
    wf = Repository().get("feed").with_status()
    poll(validate_definition(wf))
    api.items.append(item(4))
    report = dry_run("feed", {}, isolated=False)
    assert report["poll"]["new"] == ["4"] and report["poll"]["seen"] == ["3"]
    assert report["poll"]["cursor_sent"] == item(3)["updated_at"]
    assert report["would_run"] is True
    (plan,) = report["steps"]
    assert plan["config"]["title"] == "Follow up item 4 #4"  # the first new item
    assert [i for i, _ in stored_items()] == ["1", "2", "3"]  # nothing stored, the cursor not moved
    assert PollCursors().get("feed", "feed_api /items? updated_at->since") == item(3)["updated_at"]

    assert cli_main(["dry-run", "feed"]) == 0  # the CLI's text report says the same
    out = capsys.readouterr().out
    assert f"(cursor {item(3)['updated_at']})" in out
    assert "2 item(s), 1 new, 1 seen" in out and "new: 4" in out


def test_a_dry_run_whose_poll_fails_says_why(
    feed: tuple[FeedApi, list[Recorded]], monkeypatch: pytest.MonkeyPatch
) -> None:
    Repository().create(poll_workflow())
    monkeypatch.delenv("AIRFLOW_CONN_FEED_API")
    report = dry_run("feed", {"new": {"id": 1, "name": "sample"}}, isolated=False)
    assert "Airflow connection 'feed_api' is not defined" in report["poll"]["error"]
    assert report["would_run"] is True  # the steps still run for the sample given


def test_a_poll_workflow_has_a_poll_dag_on_its_cron_and_runs_per_item_on_its_asset() -> None:
    from automation.definitions.triggers import describe_trigger
    from automation.factory.build import dags_from_plan
    from automation.factory.plan import plan_for

    wf = poll_workflow(cron="*/10 * * * *")
    dags = dags_from_plan(plan_for(wf, 1))
    poll_dag, main = dags["automation__feed__scan"], dags["automation__feed"]
    assert [t.task_id for t in poll_dag.tasks] == ["poll"]
    assert poll_dag.timetable.expression == "*/10 * * * *"
    assert main.timetable.asset_condition.uri == "automation://poll/feed"
    assert "conditions" in main.task_ids  # the event gate: each event runs once
    assert describe_trigger(wf.trigger.model_dump()) == "poll feed_api /items (*/10 * * * *)"


@pytest.mark.usefixtures("airflow_db")
def test_the_dry_run_api_polls_in_the_server_and_runs_the_steps_in_its_limited_worker(
    feed: tuple[FeedApi, list[Recorded]],
) -> None:
    from tests.helpers import admin_api

    api, requests = feed
    steps = [{"id": "t", "type": "create_task", "config": {"title": "Follow up {{ trigger.item.name }}"}}]
    Repository().create(poll_workflow(steps=steps))
    api.window = (1, 2)
    with admin_api() as client:
        response = client.post("/api/v1/workflows/feed/dry-run", json={})
        given = client.post("/api/v1/workflows/feed/dry-run", json={"event": {"new": {"name": "given"}}})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["poll"]["new"], report["poll"]["seen"]) == (["1", "2"], [])
    assert report["steps"][0]["config"]["title"] == "Follow up item 1"
    assert given.json()["steps"][0]["config"]["title"] == "Follow up given"  # a sample given wins
    assert len(requests) == 2 and stored_items() == []
    assert TOKEN not in response.text
