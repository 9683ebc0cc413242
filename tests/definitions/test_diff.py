from __future__ import annotations

from automation.definitions.diff import definition_diff
from tests.helpers import workflow


def test_diff_is_a_unified_yaml_diff_and_empty_when_equal() -> None:
    old, new = workflow("a"), workflow("a", name="Renamed")
    new["steps"][0]["config"]["values"]["amount"] = 5000
    text = definition_diff(old, new, old_label="a v1", new_label="a v2")
    assert text.startswith("--- a v1\n+++ a v2\n")
    changed = [line for line in text.splitlines() if line[:1] in "+-" and line[:3] not in {"---", "+++"}]
    assert changed == ["-name: Manual deal", "+name: Renamed", "-      amount: 1200", "+      amount: 5000"]
    assert definition_diff(old, workflow("a"), old_label="x", new_label="y") == ""
