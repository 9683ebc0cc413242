"""`automation capture enable|disable|status`, run as the CLI runs."""

from __future__ import annotations

import json

import pytest

from automation.cli.main import main
from tests.capture.conftest import CRM_DB, psql

pytestmark = pytest.mark.usefixtures("registry")


def test_enable_status_disable(capsys: pytest.CaptureFixture[str], deals: list[int]) -> None:
    assert main(["capture", "enable", "deals", "orders_app"]) == 0
    out = capsys.readouterr().out
    assert "capture enabled on deals (connection automation_db)" in out
    assert "capture enabled on orders_app (connection capture_app)" in out
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {deals[0]}")
    assert main(["capture", "status", "--json"]) == 0
    by_conn = {s["connection"]: s for s in json.loads(capsys.readouterr().out)}
    assert by_conn["automation_db"]["collections"]["deals"] is True
    assert by_conn["automation_db"]["collections"]["tasks"] is False
    assert by_conn["automation_db"]["backlog"] == 1 and by_conn["automation_db"]["last_event_at"]
    assert main(["capture", "status"]) == 0
    assert "deals                    installed" in capsys.readouterr().out
    assert main(["capture", "disable", "deals"]) == 0
    assert "capture disabled on deals" in capsys.readouterr().out
    assert main(["capture", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["collections"]["deals"] is False


def test_an_unknown_collection_is_one_line_and_a_nonzero_exit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["capture", "enable", "nope"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and "'nope' is not in the registry" in err and "Traceback" not in err
