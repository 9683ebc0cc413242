"""How a channel is spelled in a definition: checked before anything runs."""

from __future__ import annotations

import pytest

from automation.definitions.notices import StepNotice, split_channel
from automation.errors import DefinitionError
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.unit


def test_channels_name_a_connection_or_take_the_providers_default() -> None:
    assert split_channel("apprise") == ("apprise", "apprise_default")
    assert split_channel("slack:ops_webhook") == ("slack", "ops_webhook")
    assert split_channel("in_app") == ("in_app", None)
    with pytest.raises(ValueError, match="String should match pattern"):
        StepNotice(channels=["sms:../etc"])


def test_an_unknown_channel_is_refused_with_its_path() -> None:
    definition = workflow(
        "t", steps=[{"id": "n", "type": "send_notification", "config": {"title": "x", "channels": ["pager"]}}]
    )
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    assert "steps[0].config.channels[0]" in str(caught.value) or "channels.0" in str(caught.value)


def test_a_notice_names_a_template_that_exists() -> None:
    def with_template(name: str) -> dict:
        return workflow("t", steps=[{"id": "n", "type": "add_tag", "config": {"collection": "deals", "id": 1,
                                     "tags": ["x"]}, "notify": {"on_failure": {"template": name}}}])  # fmt: skip

    validate_definition(with_template("step-failed"))
    with pytest.raises(DefinitionError) as caught:
        validate_definition(with_template("step-faild"))
    (issue,) = caught.value.issues
    assert issue.path == "steps[0].notify.on_failure.template"
    assert "no notification template 'step-faild'" in issue.message and "step-failed" in issue.message
    with pytest.raises(DefinitionError, match="String should match pattern"):
        validate_definition(with_template("../secrets"))
