"""The LLM analyser: any chat API that speaks the OpenAI chat-completions protocol.

`OpenAICompatibleAnalyser` renders the versioned prompt with the check's evidence, POSTs it to
`{llm_base_url}/chat/completions` (Bearer `llm_api_key`, temperature 0, JSON mode) and reads
the statements back. It owns the request and the checking of the answer; it never writes the
ledger and never raises: a timeout, a connection error, a non-2xx status, an answer that is not
JSON or has no statements list becomes `AnalysisOutput.error` with no statements. The error
text names what failed and never carries the API key (nor does the recorded raw output).

Each statement is checked: a known kind, a text of 1 to 2,000 characters, evidence ids that are
UUIDs, recommendation and persona data of the right shape, and (`cited_only`) at least one cited
id, every one of them evidence of this check. What fails goes to `rejections` with the reason:
counted, never published. The base URL is the operator's configuration, so it is not checked
against private networks like the collectors' targets are.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, cast

import httpx

from tenantry.config import Settings
from tenantry.insight.analysis.prompts import PromptTemplate, load_template
from tenantry.insight.facts import (
    AnalysisInput,
    AnalysisOutput,
    Rejection,
    Statement,
    StatementKind,
    cited_only,
)
from tenantry.models.enums import Persona

__all__ = ["MAX_ANSWER_BYTES", "MAX_DATA", "MAX_TEXT", "RAW_LIMIT", "OpenAICompatibleAnalyser"]

MAX_TEXT = 2000
MAX_DATA = 4000  # characters of a statement's data as JSON
RAW_LIMIT = 20_000  # characters of an answer kept as raw output when it is not (small) JSON
MAX_ANSWER_BYTES = 4_000_000
_KINDS: frozenset[str] = frozenset(
    ("strength", "weakness", "opportunity", "threat", "persona", "recommendation", "summary")
)
_PERSONAS = frozenset(p.value for p in Persona)


class _UnusableError(Exception):
    """The provider's answer could not be used."""

    def __init__(self, reason: str, raw: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's message: bare, in a code fence, or amid prose."""
    candidates = [text.strip()]
    if "```" in text:
        fenced = text.split("```")[1]
        candidates.append(fenced.removeprefix("json").strip())
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            found = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(found, dict):
            return found
    return None


def _recommendation(data: dict[str, Any], text: str) -> dict[str, Any] | str:
    title = data.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else text
    priority = data.get("priority", 3)
    if isinstance(priority, str) and priority.strip().isdigit():
        priority = int(priority.strip())
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        return "priority is not 1..5"
    category = data.get("category")
    impact = data.get("expected_impact")
    return {
        **data,
        "title": title[:200],
        "priority": priority,
        "category": category[:60] if isinstance(category, str) and category else "general",
        "expected_impact": impact[:200] if isinstance(impact, str) and impact else None,
    }


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _statement(raw: Any) -> Statement | Rejection:
    if not isinstance(raw, dict):
        return Rejection("", "not an object")
    text = raw.get("text")
    shown = text[:200] if isinstance(text, str) else ""
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        return Rejection(shown, "unknown kind")
    if not isinstance(text, str) or not text.strip():
        return Rejection(shown, "no text")
    if len(text) > MAX_TEXT:
        return Rejection(shown, f"text longer than {MAX_TEXT} characters")
    ids = raw.get("evidence_ids", [])
    if not isinstance(ids, list):
        return Rejection(shown, "evidence_ids is not a list")
    cited = [_uuid(i) for i in ids]
    if None in cited:
        return Rejection(shown, "cites an evidence id that is not a UUID")
    data = raw.get("data") or {}
    if not isinstance(data, dict):
        return Rejection(shown, "data is not an object")
    if kind == "recommendation":
        checked = _recommendation(data, text.strip())
        if isinstance(checked, str):
            return Rejection(shown, checked)
        data = checked
    persona = data.get("persona")
    if kind == "persona" and (not isinstance(persona, str) or persona not in _PERSONAS):
        return Rejection(shown, "unknown persona")
    try:
        size = len(json.dumps(data))
    except (TypeError, ValueError, RecursionError):
        size = MAX_DATA + 1
    if size > MAX_DATA:
        return Rejection(shown, f"data larger than {MAX_DATA} characters")
    statement_kind = cast(StatementKind, kind)
    ids_cited = tuple(dict.fromkeys(i for i in cited if i is not None))
    return Statement(statement_kind, text.strip(), ids_cited, data)


class OpenAICompatibleAnalyser:
    """Analysis by a chat model behind an OpenAI-compatible API."""

    name = "llm"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_seconds: float,
        template: PromptTemplate | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._key = api_key or ""
        self._model = model
        self._timeout = timeout_seconds
        self._template = template or load_template()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleAnalyser:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_base_url or "",
            key,
            settings.llm_model,
            settings.llm_timeout_seconds,
        )

    @property
    def prompt_version(self) -> str:
        return self._template.version

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _post(self, body: dict[str, Any]) -> bytes:
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        deadline = time.monotonic() + self._timeout
        timeout = httpx.Timeout(self._timeout)
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", self._url, json=body, headers=headers) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _UnusableError(f"LLM answer larger than {MAX_ANSWER_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("deadline")
                chunks.append(chunk)
            content = b"".join(chunks)
            if not response.is_success:
                raw = self._redact(content.decode("utf-8", "replace"))[:RAW_LIMIT]
                raise _UnusableError(f"LLM provider answered HTTP {response.status_code}", raw)
            return content

    def _read(self, content: bytes, out: AnalysisOutput) -> list[Any]:
        text = self._redact(content.decode("utf-8", "replace"))
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            raise _UnusableError("LLM answer is not JSON", text[:RAW_LIMIT]) from None
        if not isinstance(payload, dict):
            raise _UnusableError("LLM answer is not a chat completion", text[:RAW_LIMIT])
        if isinstance(payload.get("model"), str) and payload["model"]:
            out.model = payload["model"][:200]
        usage = payload.get("usage")
        if isinstance(usage, dict):
            tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
            out.tokens_in = tokens_in if isinstance(tokens_in, int) else None
            out.tokens_out = tokens_out if isinstance(tokens_out, int) else None
        try:
            message = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _UnusableError("LLM answer has no message", text[:RAW_LIMIT]) from None
        if not isinstance(message, str):
            raise _UnusableError("LLM answer has no message", text[:RAW_LIMIT])
        found = _json_object(message)
        if found is None:
            raise _UnusableError("LLM message is not a JSON object", message[:RAW_LIMIT])
        raw: Any = found if len(message) <= RAW_LIMIT else message[:RAW_LIMIT]
        statements = found.get("statements")
        if not isinstance(statements, list):
            raise _UnusableError("LLM answer has no statements list", raw)
        out.raw_output = raw
        return statements

    def _body(self, inp: AnalysisInput) -> dict[str, Any]:
        prompt = self._template.render(inp)
        return {
            "model": self._model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }

    def analyse(self, inp: AnalysisInput) -> AnalysisOutput:
        out = AnalysisOutput(
            provider=self.name,
            model=self._model,
            prompt_version=self._template.version,
            statements=[],
        )
        started = time.perf_counter()
        try:
            raw_statements = self._read(self._post(self._body(inp)), out)
        except httpx.TimeoutException:
            out.error = f"LLM request timed out after {self._timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            out.error = f"LLM provider unreachable ({type(exc).__name__})"
        except _UnusableError as exc:
            out.error, out.raw_output = exc.reason, exc.raw
        except Exception as exc:  # a hostile answer (or a bad template) must not break the check
            out.error = f"LLM analysis failed ({type(exc).__name__})"
        out.latency_ms = round((time.perf_counter() - started) * 1000)
        if out.error is not None:
            out.error = self._redact(out.error)
            return out
        candidates: list[Statement] = []
        for raw in raw_statements:
            checked = _statement(raw)
            if isinstance(checked, Rejection):
                out.rejections.append(checked)
            else:
                candidates.append(checked)
        kept, rejected = cited_only(candidates, {e.id for e in inp.evidence})
        out.statements = kept
        out.rejections.extend(rejected)
        return out
