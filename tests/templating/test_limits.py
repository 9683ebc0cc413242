"""The sandbox's render limits: hostile templates are refused before they build anything big or loop
for long (a `TemplateError` naming the config path and the limit); ordinary templates render as before."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from automation.errors import TemplateError
from automation.templating import render_value

CONTEXT = {"trigger": {"new": {"name": "ACME", "amount": 12, "tags": ["a", "b"]}}, "steps": {}}
DOUBLING = "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s OP ns.s %}{% endfor %}{{ ns.s }}"


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """Fails a render that is still going after 60 s (they finish in well under a second)."""

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the render was still running after 60 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(template: str) -> str:
    with pytest.raises(TemplateError) as caught:
        render_value({"values": {"title": template}}, CONTEXT)
    message = str(caught.value)
    assert message.startswith("config.values.title: "), message
    return message


@pytest.mark.usefixtures("hang_guard")
@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**9 }}",
        "Deal {{ 'a' * 10**9 }}",
        "{{ 10**9 * ['x'] }}",
        "{{ '%1000000000s' % 'a' }}",
        "{{ '{:>1000000000}'.format('a') }}",
        "{{ 'a' | center(1000000000) }}",
        "{{ 'a'.ljust(1000000000) }}",
        "{{ (1).to_bytes(1000000000, 'big') | length }}",
        "{{ ('a' * 100000).replace('a', 'a' * 100000) | length }}",
        "{{ range(100000) | join('x' * 100000) | length }}",
        "{{ [1] | batch(1000000000, 0) | list | length }}",
        DOUBLING.replace("OP", "~"),
        DOUBLING.replace("OP", "+"),
        "{% set s = 'a' * 900000 %}{{ [s, s, s, s] }}",
        "{% set s = 'a' * 900000 %}{{ [s, s, s, s] | tojson | length }}",
    ],
)
def test_text_and_lists_are_capped_by_result_size(template: str) -> None:
    assert "would make more than 1,000,000 characters or items (the limit)" in refused(template)


def test_numbers_are_capped_by_digits() -> None:
    assert "more than 1,000 digits" in refused("{{ 10 ** (10 ** 10) }}")
    assert "more than 1,000 digits" in refused("{% set ns = namespace(n=7) %}"
                                               "{% for i in range(30) %}{% set ns.n = ns.n * ns.n %}{% endfor %}")  # fmt: skip
    assert render_value("{{ 2 ** 64 }}", CONTEXT) == 2**64


@pytest.mark.usefixtures("hang_guard")
@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(10000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "{% for x in range(100000) recursive %}{% if loop.depth < 4 %}{{ loop(range(100000)) }}{% endif %}{% endfor %}",
    ],
)
def test_loop_iterations_and_calls_are_capped_per_render(template: str) -> None:
    message = refused(template)
    assert (
        "more than 100,000 loop iterations and calls" in message and "[automation] template_max_iterations" in message
    )


def test_the_iteration_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_TEMPLATE_MAX_ITERATIONS", "10")
    assert render_value("{% for i in range(5) %}{{ i }}{% endfor %}", CONTEXT) == "01234"
    assert "more than 10 loop iterations" in refused(
        "{% for i in range(3) %}{% for j in range(4) %}{% endfor %}{% endfor %}"
    )


@pytest.mark.usefixtures("hang_guard")
def test_many_big_pieces_are_capped_by_total_work() -> None:
    message = refused("{{ range(100000) | map('center', 999999) | list | length }}")
    assert "more than 20,000,000 characters and items in all" in message


def test_lists_and_dicts_cannot_be_changed() -> None:
    assert "forbids" in refused("{% set l = [] %}{% for i in range(30) %}{{ l.extend(l + [i]) }}{% endfor %}")
    assert "forbids" in refused("{{ trigger.new.update({'amount': 0}) }}")


def test_lipsum_is_gone() -> None:
    assert "'lipsum' is undefined" in refused("{{ lipsum(1000000) }}")


def test_ordinary_templates_render_as_before() -> None:
    rendered = render_value(
        {
            "a": "{{ trigger.new.name ~ '!' }}",
            "b": "{{ '%s-%03d' % (trigger.new.name, trigger.new.amount) }}",
            "c": "{{ '{} / {:>4}'.format(trigger.new.name, trigger.new.amount) }}",
            "d": "{% for t in trigger.new.tags %}{{ loop.index }}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}",
            "e": "{{ trigger.new.tags | join(', ') | upper }}",
            "f": "{{ trigger.new.amount * 2 + 1 }}",
            "g": "{{ trigger.new.tags * 2 }}",
            "h": "{{ trigger.new | tojson }}",
            "i": "{{ 'ab' | center(6) }}|{{ 'x'.zfill(3) }}|{{ 'a-b'.replace('-', '+') }}",
            "j": "{{ [[1], [2, 3]] | sum(start=[]) }}",
            "k": "{% for x in [[1, [2]], [3]] recursive %}{{ x if x is number else loop(x) }}{% endfor %}",
        },
        CONTEXT,
    )
    assert rendered == {
        "a": "ACME!",
        "b": "ACME-012",
        "c": "ACME /   12",
        "d": "1a, 2b",
        "e": "A, B",
        "f": 25,
        "g": ["a", "b", "a", "b"],
        "h": '{"amount": 12, "name": "ACME", "tags": ["a", "b"]}',
        "i": "  ab  |00x|a+b",
        "j": [1, 2, 3],
        "k": "123",
    }
