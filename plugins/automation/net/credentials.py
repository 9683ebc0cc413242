"""Spot a credential written into a definition: headers or query parameters whose name says they
carry a secret (Authorization, Cookie, X-Api-Key, ...) and whose value is written out rather than
read from the run's data.

A value is literal when it is plain text, or a template whose own text or string constants are more
than an auth scheme word (`Bearer {{ trigger.body.token }}` reads data and passes;
`Bearer abc`, `{{ 'abc' }}` and `Bearer {{ 'a' ~ 'b' }}` do not). Credentials belong in an Airflow
connection (`conn_id`), which definitions, exports, pages and dry runs never contain.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

from jinja2 import Environment, TemplateSyntaxError, nodes

_SECRET_HEADER_PARTS = frozenset({
    "authorization", "auth", "authentication", "token", "secret", "password", "passwd", "cookie", "credential",
    "credentials", "apikey", "session",
})  # fmt: skip
_SECRET_PARAMS = frozenset({
    "apikey", "api_key", "key", "token", "access_token", "auth", "auth_token", "secret", "client_secret",
    "password", "passwd", "signature", "sig",
})  # fmt: skip
_SCHEME_WORDS = re.compile(r"\b(bearer|basic|token|digest|apikey|api-key|key)\b", re.IGNORECASE)


def is_secret_header(name: str) -> bool:
    """Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token, Private-Token, ..."""
    parts = [p for p in re.split(r"[-_\s]+", name.lower()) if p]
    if any(p in _SECRET_HEADER_PARTS for p in parts):
        return True
    return any(a == "api" and b == "key" for a, b in itertools.pairwise(parts))


def is_secret_param(name: str) -> bool:
    return name.lower().replace("-", "_") in _SECRET_PARAMS


@cache
def _parser() -> Environment:
    return Environment()


def _written_out(node: nodes.Node) -> list[str]:
    """String constants under `node`, except subscript keys (`body['token']` reads data)."""
    keys = {id(item.arg) for item in node.find_all(nodes.Getitem)}
    found = [node] if isinstance(node, nodes.Const) else []
    found += node.find_all(nodes.Const)
    return [c.value for c in found if isinstance(c.value, str) and id(c) not in keys]


def _parse(value: str) -> nodes.Template | None:
    try:
        return _parser().parse(value)
    except TemplateSyntaxError:
        return None  # a syntax error is reported by the template checks, not as a credential


def _literal_text(value: str) -> str:
    """The text a template writes out by itself: its literal parts and string constants."""
    if "{{" not in value and "{%" not in value:
        return value
    tree = _parse(value)
    if tree is None:
        return ""
    return " ".join([node.data for node in tree.find_all(nodes.TemplateData)] + _written_out(tree))


def _has_secret(text: str) -> bool:
    return bool(re.sub(r"[\s:=,;\"']+", "", _SCHEME_WORDS.sub(" ", text)))


def is_literal_secret(value: object) -> bool:
    """True when `value` (a definition's header or parameter value) holds a written-out credential."""
    if not isinstance(value, str):
        return value is not None and value != ""
    return _has_secret(_literal_text(value))


def literal_secret_names(values: dict[str, object], *, headers: bool) -> list[str]:
    """Names in `values` (headers or query parameters) that hold a written-out credential."""
    secret = is_secret_header if headers else is_secret_param
    return [name for name, value in values.items() if secret(str(name)) and is_literal_secret(value)]


def template_secret_names(template: str, *, headers: bool) -> list[str]:
    """Keys of a whole-object template (`headers: "{{ {'Authorization': 'Bearer x'} }}"`) that
    write out a credential."""
    secret = is_secret_header if headers else is_secret_param
    tree = _parse(template)
    if tree is None:
        return []
    found = []
    for pair in tree.find_all(nodes.Pair):
        key = pair.key
        if isinstance(key, nodes.Const) and secret(str(key.value)) and _has_secret(" ".join(_written_out(pair.value))):
            found.append(str(key.value))
    for keyword in tree.find_all(nodes.Keyword):
        if secret(keyword.key) and _has_secret(" ".join(_written_out(keyword.value))):
            found.append(keyword.key)
    return found
