"""The OpenAI-compatible analyser against a local server speaking the chat-completions protocol
(a real socket on 127.0.0.1): good answers are read, hallucinated citations are rejected and
counted, garbage, errors and slowness become an error on the output, never an exception, and
the API key shows up nowhere but in the Authorization header."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import pytest

from tenantry.errors import ValidationError
from tenantry.insight.analysis import llm as llm_module
from tenantry.insight.analysis.llm import OpenAICompatibleAnalyser
from tenantry.insight.analysis.prompts import PromptTemplate, load_template
from tenantry.insight.facts import AnalysisInput, AnalysisOutput
from tests.unit.insight.analysis_support import analysis_input, evidence

API_KEY = "sk-test-5f1c0d2e9b8a7766"
MODEL = "test-model"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds before the answer
    trickle: float = 0.0  # seconds between bytes of the body


@dataclass
class ChatServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], Reply] = lambda _: Reply(500)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        state: ChatServer = self.server.state
        record = {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
        state.requests.append(record)
        reply = state.answer(record["body"])
        try:
            time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.trickle:
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = ChatServer(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def completion(content: str, *, model: str = "test-model-2026-01") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 812, "completion_tokens": 96, "total_tokens": 908},
        }
    ).encode()


def statements(*items: dict[str, Any]) -> str:
    return json.dumps({"statements": list(items)})


def analyser(chat: ChatServer, timeout: float = 5.0) -> OpenAICompatibleAnalyser:
    return OpenAICompatibleAnalyser(chat.url, API_KEY, MODEL, timeout)


@pytest.fixture
def inp() -> AnalysisInput:
    return analysis_input(evidence())


def _ids(inp: AnalysisInput, *keys: str) -> list[str]:
    by_key = {e.key: str(e.id) for e in inp.evidence}
    return [by_key[k] for k in keys]


def _no_key(out: AnalysisOutput) -> None:
    assert API_KEY not in (out.error or "")
    assert API_KEY not in json.dumps(out.raw_output, default=str)
    assert all(API_KEY not in r.text for r in out.rejections)


def test_a_good_answer_is_read_and_the_request_speaks_the_protocol(
    chat: ChatServer, inp: AnalysisInput
) -> None:
    answer = statements(
        {
            "kind": "strength",
            "text": "Rated 4.6 on Google, above the nearby median.",
            "evidence_ids": _ids(inp, "places.rating", "competitors.median_rating"),
        },
        {
            "kind": "recommendation",
            "text": "Collect more reviews; the competitors have far more.",
            "evidence_ids": _ids(inp, "places.review_count"),
            "data": {
                "title": "Collect more Google reviews",
                "priority": 2,
                "category": "gbp",
                "expected_impact": "+6 to +12 points GBP score",
            },
        },
        {
            "kind": "persona",
            "text": "A single location whose website names its owner.",
            "evidence_ids": _ids(inp, "web.owner_named"),
            "data": {"persona": "solo-sarah"},
        },
    )
    chat.answer = lambda _: Reply(body=completion(answer))
    out = analyser(chat).analyse(inp)

    assert out.error is None
    assert [s.kind for s in out.statements] == ["strength", "recommendation", "persona"]
    assert out.rejections == []
    assert out.statements[1].data["priority"] == 2
    assert out.statements[0].evidence_ids == tuple(
        uuid.UUID(i) for i in _ids(inp, "places.rating", "competitors.median_rating")
    )
    assert (out.provider, out.model) == ("llm", "test-model-2026-01")
    assert (out.tokens_in, out.tokens_out) == (812, 96)
    assert out.raw_output == json.loads(answer)
    assert out.latency_ms >= 0
    template = resources.files("tenantry.insight.analysis").joinpath(
        "prompts", "visibility_check.txt"
    )
    assert out.prompt_version == hashlib.sha256(template.read_bytes()).hexdigest()

    (request,) = chat.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = request["body"]
    assert body["model"] == MODEL
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert all(str(e.id) in user for e in inp.evidence)
    sent, _ = json.JSONDecoder().raw_decode(user, user.index("[{"))
    assert {tuple(sorted(row)) for row in sent} == {
        ("claim", "confidence", "id", "key", "source", "value")
    }
    assert inp.location_name not in json.dumps(body)
    assert API_KEY not in json.dumps(body)


def test_hallucinated_citations_are_rejected_and_counted(
    chat: ChatServer, inp: AnalysisInput
) -> None:
    good = _ids(inp, "web.https")
    answer = statements(
        {"kind": "strength", "text": "Served over HTTPS.", "evidence_ids": good},
        {
            "kind": "weakness",
            "text": "Cites an id from nowhere.",
            "evidence_ids": [str(uuid.uuid4())],
        },
        {
            "kind": "threat",
            "text": "Cites half a real id.",
            "evidence_ids": [*good, str(uuid.uuid4())],
        },
        {"kind": "opportunity", "text": "Cites no uuid.", "evidence_ids": ["evidence-7"]},
        {"kind": "summary", "text": "Cites nothing at all.", "evidence_ids": []},
        {"kind": "summary", "text": "Has no citation field."},
        {"kind": "strength", "text": "Cites a number.", "evidence_ids": [7]},
    )
    chat.answer = lambda _: Reply(body=completion(answer))
    out = analyser(chat).analyse(inp)

    assert out.error is None
    assert [s.text for s in out.statements] == ["Served over HTTPS."]
    reasons = {r.text: r.reason for r in out.rejections}
    assert len(out.rejections) == 6
    assert reasons["Cites an id from nowhere."] == "cites evidence that is not part of the check"
    assert reasons["Cites half a real id."] == "cites evidence that is not part of the check"
    assert reasons["Cites no uuid."] == "cites an evidence id that is not a UUID"
    assert reasons["Cites nothing at all."] == "cites no evidence"
    assert reasons["Has no citation field."] == "cites no evidence"
    assert reasons["Cites a number."] == "cites an evidence id that is not a UUID"


def test_malformed_statements_are_rejected_one_by_one(chat: ChatServer, inp: AnalysisInput) -> None:
    ids = _ids(inp, "web.https")
    answer = statements(
        {"kind": "opinion", "text": "Unknown kind.", "evidence_ids": ids},
        {"kind": "strength", "text": "   ", "evidence_ids": ids},
        {"kind": "strength", "text": "x" * 2001, "evidence_ids": ids},
        {
            "kind": "persona",
            "text": "Unknown persona.",
            "evidence_ids": ids,
            "data": {"persona": "x"},
        },
        {
            "kind": "recommendation",
            "text": "Bad priority.",
            "evidence_ids": ids,
            "data": {"priority": 9},
        },
        {"kind": "weakness", "text": "Data is a list.", "evidence_ids": ids, "data": [1]},
        "not an object",
        {"kind": ["strength"], "text": "Kind is a list.", "evidence_ids": ids},
        {
            "kind": "persona",
            "text": "Persona is a list.",
            "evidence_ids": ids,
            "data": {"persona": []},
        },
        {"kind": "strength", "text": "Huge data.", "evidence_ids": ids, "data": {"x": "y" * 5000}},
        {"kind": "recommendation", "text": "Fine, with defaults.", "evidence_ids": ids},
    )
    chat.answer = lambda _: Reply(body=completion(answer))
    out = analyser(chat).analyse(inp)
    assert out.error is None
    assert len(out.rejections) == 10
    (kept,) = out.statements
    assert kept.data["title"] == "Fine, with defaults."
    assert kept.data["priority"] == 3


def test_an_answer_in_a_code_fence_is_still_read(chat: ChatServer, inp: AnalysisInput) -> None:
    body = statements(
        {"kind": "strength", "text": "HTTPS.", "evidence_ids": _ids(inp, "web.https")}
    )
    chat.answer = lambda _: Reply(body=completion(f"Here you are:\n```json\n{body}\n```"))
    out = analyser(chat).analyse(inp)
    assert out.error is None
    assert [s.text for s in out.statements] == ["HTTPS."]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(body=b"<html>bad gateway</html>"), "LLM answer is not JSON"),
        (Reply(body=b"[1, 2, 3]"), "LLM answer is not a chat completion"),
        (Reply(body=b'{"choices": []}'), "LLM answer has no message"),
        (Reply(body=completion("I cannot help with that.")), "LLM message is not a JSON object"),
        (Reply(body=completion('{"result": "fine"}')), "LLM answer has no statements list"),
        (Reply(body=completion('{"statements": "many"}')), "LLM answer has no statements list"),
        (Reply(body=completion("[" * 100_000)), "LLM message is not a JSON object"),
        (Reply(500, b'{"error": "boom"}'), "LLM provider answered HTTP 500"),
        (
            Reply(401, f'{{"error": "bad key {API_KEY}"}}'.encode()),
            "LLM provider answered HTTP 401",
        ),
        (Reply(302, b""), "LLM provider answered HTTP 302"),
    ],
    ids=[
        "html",
        "array",
        "no-choices",
        "prose",
        "no-statements",
        "wrong-shape",
        "deep",
        "500",
        "401-echoing-key",
        "redirect",
    ],
)
def test_garbage_and_failures_become_an_error_not_an_exception(
    chat: ChatServer, inp: AnalysisInput, reply: Reply, error: str
) -> None:
    chat.answer = lambda _: reply
    out = analyser(chat).analyse(inp)
    assert out.error == error
    assert out.statements == []
    _no_key(out)


def test_a_server_that_sleeps_past_the_timeout_is_given_up_on_in_time(
    chat: ChatServer, inp: AnalysisInput
) -> None:
    chat.answer = lambda _: Reply(body=completion(statements()), delay=3.0)
    started = time.monotonic()
    out = analyser(chat, timeout=0.5).analyse(inp)
    assert time.monotonic() - started < 1.5
    assert out.error == "LLM request timed out after 0.5 s"
    assert out.statements == []
    _no_key(out)


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_deadline(
    chat: ChatServer, inp: AnalysisInput
) -> None:
    chat.answer = lambda _: Reply(body=completion(statements()), trickle=0.05)
    started = time.monotonic()
    out = analyser(chat, timeout=0.5).analyse(inp)
    assert time.monotonic() - started < 1.5
    assert out.error == "LLM request timed out after 0.5 s"


def test_an_oversized_answer_is_refused(
    chat: ChatServer, inp: AnalysisInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_module, "MAX_ANSWER_BYTES", 10_000)
    chat.answer = lambda _: Reply(body=completion("x" * 50_000))
    out = analyser(chat).analyse(inp)
    assert out.error == "LLM answer larger than 10000 bytes"


def test_a_provider_that_is_not_there_is_an_error(inp: AnalysisInput) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on the port any more
    out = OpenAICompatibleAnalyser(f"http://127.0.0.1:{port}/v1", API_KEY, MODEL, 2.0).analyse(inp)
    assert out.error == "LLM provider unreachable (ConnectError)"
    _no_key(out)
    broken = OpenAICompatibleAnalyser("not a url at all", API_KEY, MODEL, 2.0).analyse(inp)
    assert broken.error is not None and broken.error.startswith("LLM provider unreachable")
    _no_key(broken)


def test_a_template_that_does_not_render_is_an_error_not_an_exception(
    chat: ChatServer, inp: AnalysisInput
) -> None:
    template = PromptTemplate.from_text("broken", "=== system ===\n$nothing\n=== user ===\nhi")
    out = OpenAICompatibleAnalyser(chat.url, API_KEY, MODEL, 2.0, template).analyse(inp)
    assert out.error == "LLM analysis failed (KeyError)"
    assert chat.requests == []


def test_the_prompt_version_is_the_hash_of_the_template_text() -> None:
    text = "=== system ===\nBe brief.\n=== user ===\nEvidence: $evidence"
    first = PromptTemplate.from_text("t", text)
    assert first.version == hashlib.sha256(text.encode()).hexdigest()
    assert PromptTemplate.from_text("t", text + " ").version != first.version
    assert (
        load_template().version
        == OpenAICompatibleAnalyser("http://127.0.0.1:9", None, MODEL, 1.0).prompt_version
    )
    for broken in ("no sections", "=== user ===\nx\n=== system ===\ny"):
        with pytest.raises(ValidationError):
            PromptTemplate.from_text("t", broken)
    with pytest.raises(ValidationError):
        load_template("../rubric")
