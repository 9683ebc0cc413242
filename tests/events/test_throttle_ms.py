"""Throttle and debounce windows in milliseconds (`window_ms: 500`, or `window: "500ms"`): the window is kept
to the millisecond."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from automation.errors import DefinitionError
from automation.runtime.event_gate import decide
from automation.store.db import engine
from automation.store.ledger import EventLedger
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")
TRIGGER = {"type": "record_event", "entity": "deals", "events": ["updated"]}


def throttled_workflow(**throttle: Any) -> Any:
    return validate_definition(workflow("wf", trigger=TRIGGER, settings={"throttle": throttle}))


def event(n: int) -> dict[str, Any]:
    ((event_id, _),) = EventLedger().append([{"idempotency_key": f"ms-{n}", "entity": "deals", "event": "updated"}])
    return {"event_id": event_id, "entity": "deals", "id": 1, "event": "updated"}


def age_window(milliseconds: int) -> None:
    """Move the open window's start back in time (as if that long had passed)."""
    with engine().begin() as conn:
        conn.execute(text("UPDATE automation.throttle_state SET last_at = last_at - make_interval(secs => :s)"),
                     {"s": milliseconds / 1000})  # fmt: skip


def test_a_1500_ms_window_throttles_at_1_s_and_lets_through_at_1_6_s() -> None:
    wf, ledger = throttled_workflow(window_ms=1500), EventLedger()
    assert decide(wf, event(1), "r1", ledger).run is True
    age_window(1000)
    decision = decide(wf, event(2), "r2", ledger)
    assert decision.outcome == "throttled" and "1.5 s" in (decision.reason or "")
    age_window(600)
    assert decide(wf, event(3), "r3", ledger).run is True


def test_a_debounce_of_500_ms_waits_half_a_second() -> None:
    decision = decide(throttled_workflow(window_ms=500, mode="debounce"), event(4), "r4", EventLedger())
    assert decision.outcome == "debounce_wait" and decision.wait_seconds == 0.5


def test_a_window_written_as_500ms_debounces_half_a_second() -> None:
    written = throttled_workflow(window=" 500 ms", mode="debounce")
    assert written.settings.throttle == throttled_workflow(window_ms=500, mode="debounce").settings.throttle
    decision = decide(written, event(5), "r5", EventLedger())
    assert decision.outcome == "debounce_wait" and decision.wait_seconds == 0.5
    assert throttled_workflow(window="2m").settings.throttle.seconds == 120  # seconds as before


@pytest.mark.parametrize("throttle", [{"window": 1, "window_ms": 500}, {"scope": "entity"}, {"window_ms": 0}])
def test_a_window_is_given_exactly_once_and_positive(throttle: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError) as caught:
        throttled_workflow(**throttle)
    assert caught.value.issues[0].path.startswith("settings.throttle.window")


@pytest.mark.parametrize(
    ("window", "message"),
    [("0ms", "1 ms to 86400000 ms"), ("86400001ms", "1 ms to 86400000 ms"), ("1.5s", '"500ms"'),
     ("500 mss", '"500ms"'), ([500], '"500ms"')],
)  # fmt: skip
def test_a_bad_window_is_refused_at_its_path(window: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        throttled_workflow(window=window)
    ((issue,),) = [caught.value.issues]
    assert issue.path == "settings.throttle.window" and message in issue.message


def test_window_in_milliseconds_and_window_ms_together_are_refused_at_window() -> None:
    with pytest.raises(DefinitionError) as caught:
        throttled_workflow(window="500ms", window_ms=500)
    assert [i.path for i in caught.value.issues] == ["settings.throttle.window"]
