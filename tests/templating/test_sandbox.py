from __future__ import annotations

import pytest

from automation.errors import TemplateError
from automation.templating import render_value

CONTEXT = {"trigger": {"new": {"name": "ACME", "amount": 12, "tags": ["a"]}}, "steps": {}}


def test_single_expression_keeps_native_type_and_text_renders_to_string() -> None:
    rendered = render_value(
        {
            "n": "{{ trigger.new.amount }}",
            "s": "Deal {{ trigger.new.name }}",
            "l": ["{{ trigger.new.tags }}", 3],
        },
        CONTEXT,
    )
    assert rendered == {"n": 12, "s": "Deal ACME", "l": [["a"], 3]}


def test_undefined_names_are_errors_with_the_config_path() -> None:
    with pytest.raises(TemplateError) as caught:
        render_value({"values": {"x": "{{ trigger.new.nope }}"}}, CONTEXT)
    assert "config.values.x" in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ trigger['__class__'] }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_rejected(template: str) -> None:
    with pytest.raises(TemplateError):
        render_value(template, CONTEXT)


def test_output_size_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render_value("{% for i in range(50000) %}xxx{% endfor %}", CONTEXT)


def test_relative_date_filter() -> None:
    rendered = render_value("{{ '2026-01-01T00:00:00+00:00' | add_days(7) }}", CONTEXT)
    assert rendered.startswith("2026-01-08")
