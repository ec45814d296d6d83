"""A check whose analyser is an LLM (a local server speaking OpenAI's chat-completions
protocol) that hallucinates citations: only the backed statement is published, the others are
rejected and counted in the analysis run. A module of its own: the API worker of another
module's app would otherwise take the check."""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.models import AnalysisRun
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key
from tests.e2e.api.test_visibility_checks import _assert_backed, _client, _completed
from tests.insight_support.internet import local_internet

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _HallucinatingModel(BaseHTTPRequestHandler):
    """Speaks OpenAI's chat completions: cites the first evidence id it was given, and also
    makes up one statement citing an id that does not exist and one citing nothing."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = " ".join(m["content"] for m in request["messages"])
        real = UUID.findall(prompt)[0]
        content = json.dumps(
            {
                "statements": [
                    {"kind": "strength", "text": "Well rated on Google.", "evidence_ids": [real]},
                    {"kind": "threat", "text": "Invented.", "evidence_ids": [str(uuid.uuid4())]},
                    {"kind": "weakness", "text": "Unsupported.", "evidence_ids": []},
                ]
            }
        )
        body = json.dumps(
            {
                "model": "local-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_llm_that_hallucinates_citations_has_them_rejected_and_counted(
    db: Database, settings: Settings
) -> None:
    model = ThreadingHTTPServer(("127.0.0.1", 0), _HallucinatingModel)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    internet_cm = local_internet()
    internet = internet_cm.__enter__()
    llm = internet.settings(settings).model_copy(
        update={
            "vc_analyser": "llm",
            "llm_base_url": f"http://127.0.0.1:{model.server_address[1]}/v1",
            "llm_api_key": SecretStr("sk-test-0000"),
        }
    )
    try:
        tenant: TenantFixture = make_tenant(db, locations=1)
        internet.provision(db, tenant.id, tenant.locations[0], connect=False)
        headers = issue_key(db, tenant.id)
        for client in _client(db, llm):
            started = client.post(
                "/v1/visibility-checks", json={"location": "loc-0"}, headers=headers
            )
            check = _completed(client, headers, started.json()["id"])
            report = client.get(f"/v1/visibility-checks/{check['id']}/report", headers=headers)
    finally:
        model.shutdown()
        model.server_close()
        internet_cm.__exit__(None, None, None)
    assert check["status"] == "completed" and check["analyser"] == "llm"
    texts = [s["text"] for s in report.json()["statements"]]
    assert texts == ["Well rated on Google."]
    _assert_backed(report.json())
    with db.tenant_uow(tenant.id) as uow:
        (run,) = uow.session.scalars(
            sa.select(AnalysisRun).where(AnalysisRun.visibility_check_id == uuid.UUID(check["id"]))
        ).all()
    assert (run.provider, run.model, run.published, run.rejected) == ("llm", "local-model", 1, 2)
    assert run.prompt_version and run.tokens_in == 100 and run.tokens_out == 20
    assert {r["reason"] for r in run.rejections} == {
        "cites no evidence",
        "cites evidence that is not part of the check",
    }
