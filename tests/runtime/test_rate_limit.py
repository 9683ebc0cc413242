"""The rate limit's reservations (`settings.rate_limit`): every run gets a start, none is dropped, and no
window of `per` holds more than `max` starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from automation.errors import DefinitionError
from automation.runtime.rate_limit import reserve_start
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")
TRIGGER = {"type": "record_event", "entity": "deals", "events": ["updated"]}


def limited(**limit: Any) -> Any:
    return validate_definition(workflow("limited", trigger=TRIGGER, settings={"rate_limit": limit}))


def test_twelve_events_at_five_per_ten_seconds_all_start_five_per_window() -> None:
    wf = limited(max=5, per="10s")
    starts = [reserve_start(wf, {"entity": "deals", "id": n}, n) for n in range(1, 13)]
    assert all(s is not None for s in starts) and starts == sorted(starts)  # type: ignore[type-var]
    first = starts[0]
    assert first is not None
    offsets = [round(((s or first) - first).total_seconds()) for s in starts]
    assert offsets == [0] * 5 + [10] * 5 + [20] * 2
    for i in range(len(starts) - 5):  # any window of 10 s holds at most 5 starts
        assert (starts[i + 5] or first) - (starts[i] or first) >= timedelta(seconds=10)


def test_a_retried_gate_gets_its_reservation_back() -> None:
    wf = limited(max=1, per=60)
    first = reserve_start(wf, {}, 101)
    assert reserve_start(wf, {}, 101) == first  # the retry takes no second slot
    second = reserve_start(wf, {}, 102)
    assert second is not None and first is not None and second - first == timedelta(seconds=60)


def test_the_entity_scope_limits_each_record_on_its_own() -> None:
    wf = limited(max=1, per=60, scope="entity")
    one, two = (
        reserve_start(wf, {"entity": "deals", "id": 1}, 201),
        reserve_start(wf, {"entity": "deals", "id": 2}, 202),
    )
    later = reserve_start(wf, {"entity": "deals", "id": 1}, 203)
    assert one is not None and two is not None and later is not None
    assert abs((two - one).total_seconds()) < 60 and later - one == timedelta(seconds=60)


def test_without_a_rate_limit_nothing_is_reserved() -> None:
    assert reserve_start(validate_definition(workflow("free", trigger=TRIGGER)), {}, 1) is None


@pytest.mark.parametrize(("limit", "path"), [({"max": 0, "per": 10}, "settings.rate_limit.max"),
                                             ({"max": 5}, "settings.rate_limit.per"),
                                             ({"max": 5, "per": 10, "scope": "tenant"}, "settings.rate_limit.scope")])  # fmt: skip
def test_a_bad_rate_limit_is_refused_with_its_path(limit: dict[str, Any], path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        limited(**limit)
    assert caught.value.issues[0].path == path
