"""send_email refuses what data could turn against it: a template name rendered from data that
points outside include/templates/email/, a recipient value that smuggles in more recipients, and
line breaks in header fields. Real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from automation.config import include_dir
from automation.errors import DefinitionError
from automation.validation import validate_definition
from tests.actions.conftest import DEAL
from tests.helpers import workflow
from tests.servers import Mailbox, smtp_server

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                     "port": port,
                                                                     "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        yield mailbox


def _mail(**config: Any) -> dict[str, Any]:
    return {"id": "mail", "type": "send_email", "config": {"subject": "Hi", "body": "hello", **config}}


def _deal(**fields: Any) -> dict[str, Any]:
    return {"type": "record_event", "entity": "deals", "event": "updated", "id": 1, "new": {**DEAL, **fields},
            "old": DEAL}  # fmt: skip


@pytest.fixture
def outside_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An include folder with the email templates and, next to it, a private file whose name holds
    `{{` (a rendered name containing `{{` used to skip the path check)."""
    include = tmp_path / "include"
    shutil.copytree(include_dir() / "templates" / "email", include / "templates" / "email")
    (tmp_path / "private{{.txt").write_text("SECRET-CONTENT")
    monkeypatch.setenv("AUTOMATION_INCLUDE_DIR", str(include))
    return "../../../private{{.txt"


@pytest.mark.parametrize("name", ["data", "absolute", "dotdot"])
def test_a_rendered_template_name_outside_the_folder_is_refused(
    run_step: Callable, smtp: Mailbox, outside_file: str, name: str
) -> None:
    target = {"data": outside_file, "absolute": "/etc/hostname", "dotdot": "x/../welcome.html"}[name]
    step = _mail(to="a@b.test", template="{{ trigger.new.template }}")
    with pytest.raises(DefinitionError, match=r"config\.template"):
        run_step(step, trigger=_deal(template=target))
    assert smtp.messages == []
    ok = run_step(step, trigger=_deal(template="welcome.html"), run_id="r2")  # a name inside still works
    assert ok.status == "success" and len(smtp.messages) == 1


def test_a_data_driven_recipient_with_commas_is_refused_and_nobody_is_mailed(run_step: Callable, smtp: Mailbox) -> None:
    for index, value in enumerate(["a@x.com, b@y.com", "a@x.com; b@y.com", "a@x.com\nb@y.com", "A <a@x>, b@y.com"]):
        with pytest.raises(DefinitionError, match=r"steps\.mail\.config\.to: .*not a single email address"):
            run_step(_mail(to="{{ trigger.new.email }}"), trigger=_deal(email=value), run_id=f"r{index}")
    with pytest.raises(DefinitionError, match=r"config\.bcc\[1\]"):
        run_step(_mail(to="a@x.com", bcc=["c@z.com", "{{ trigger.new.email }}"]), trigger=_deal(email="d@x, e@y"))
    assert smtp.messages == []
    result = run_step(_mail(to="{{ trigger.new.email }}", cc=["Boss <boss@crm.test>"]),
                      trigger=_deal(email="only@x.com"), run_id="ok")  # fmt: skip
    assert result.status == "success" and smtp.envelopes == [["only@x.com", "boss@crm.test"]]


def test_a_comma_list_in_a_definition_asks_for_a_list() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(workflow("w", steps=[_mail(to="a@x.com, b@y.com")]))
    assert [i.path for i in caught.value.issues] == ["steps[0].config.to"]
    validate_definition(workflow("w", steps=[_mail(to=["a@x.com", "b@y.com"])]))


def test_line_breaks_in_the_subject_are_refused(run_step: Callable, smtp: Mailbox) -> None:
    with pytest.raises(DefinitionError, match=r"config\.subject: line breaks"):
        run_step(_mail(to="a@x.com", subject="{{ trigger.new.name }}"), trigger=_deal(name="Hi\r\nBcc: evil@x.com"))
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.config\.reply_to"):
        validate_definition(workflow("w", steps=[_mail(to="a@x.com", reply_to="a@x.com\r\nBcc: evil@x.com")]))
    assert smtp.messages == []
