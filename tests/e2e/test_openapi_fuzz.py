"""schemathesis against the plugin's OpenAPI spec, served by the running test Airflow: no request
it generates (valid or not) may get a 5xx, and valid requests get responses matching the spec."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.e2e.conftest import AirflowApi
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
EXAMPLES = 10  # per operation and mode: about 600 requests, so the run stays around two minutes
EXCLUDED = ("/webhooks/", "/notifications/stream")  # HMAC-signed; an endless stream: both tested on their own


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> list[str]:
    failures: list[str] = []
    checks = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks += [response_schema_conformance, content_type_conformance]

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if len(failures) >= 3:
            return
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check: keep it, and the request, for the report
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {str(exc)[:600]}")

    run()
    return failures


def test_no_operation_gives_a_server_error(airflow: AirflowApi) -> None:
    token = airflow.client.headers["Authorization"]
    headers = {"Authorization": token}
    # something to find, so reads and changes on existing keys get exercised too
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("fuzzed", status="DRAFT")).is_success
    schema = schemathesis.openapi.from_url(f"{airflow.base}/automation/openapi.json", headers=headers)
    base_url = f"{airflow.base}/automation"
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    tested = [op for op in operations if not any(part in op.path for part in EXCLUDED)]
    assert len(tested) >= 15
    for operation in tested:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz(operation, mode, base_url, headers)
    assert not failures, "\n\n".join(failures)
