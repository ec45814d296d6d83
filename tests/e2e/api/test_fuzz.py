"""Property-based fuzzing of the whole API from its OpenAPI document (schemathesis).

Every operation gets a few generated requests (valid and invalid), sent with an owner's key
of a fresh tenant: no response may be a 5xx, and every response must match what the document
declares (status code, content type, body schema). Kept small so the suite stays fast.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tenantry.db.engine import Database
from tests.conftest import make_tenant
from tests.e2e.api.conftest import issue_key

EXAMPLES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def owner_headers(db: Database) -> dict[str, str]:
    return issue_key(db, make_tenant(db).id)


# An e-mail as received (`POST /v1/payment-notifications`) is raw bytes, like a file upload.
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(
    app: FastAPI, owner_headers: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation, mode, owner_headers)
        except Unsatisfiable:  # nothing invalid to send (an operation without inputs)
            continue
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert operations >= 50
    assert not failures, "\n\n".join(failures)
