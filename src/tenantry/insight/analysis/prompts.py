"""Prompt templates of the LLM analyser, versioned by the SHA-256 of their text.

A template is a text file under `prompts/` with a `=== system ===` and a `=== user ===`
section and `$name` placeholders (`string.Template`). Its version is the SHA-256 hex of the
whole file, so any edit is a new version that the analysis run records. Rendering puts the
evidence in as a JSON list of {id, key, value, claim, source, confidence}: facts without
personal data (the ledger keeps sealed excerpts out of `EvidenceItem`); the location's name is
not used. No I/O besides reading the packaged template.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from tenantry.errors import ValidationError
from tenantry.insight.facts import AnalysisInput, EvidenceItem

__all__ = [
    "DEFAULT_PROMPT",
    "PromptTemplate",
    "RenderedPrompt",
    "evidence_payload",
    "load_template",
]

DEFAULT_PROMPT = "visibility_check"
_SYSTEM = "=== system ==="
_USER = "=== user ==="


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


def evidence_payload(evidence: tuple[EvidenceItem, ...]) -> list[dict[str, Any]]:
    """The evidence as the model sees it, in a stable order (by key, then id)."""
    return [
        {
            "id": str(e.id),
            "key": e.key,
            "value": e.value,
            "claim": e.claim,
            "source": e.source.value,
            "confidence": round(e.confidence, 3),
        }
        for e in sorted(evidence, key=lambda e: (e.key, str(e.id)))
    ]


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str
    version: str  # SHA-256 hex of `text`

    @classmethod
    def from_text(cls, name: str, text: str) -> PromptTemplate:
        if (
            text.count(_SYSTEM) != 1
            or text.count(_USER) != 1
            or text.index(_SYSTEM) > text.index(_USER)
        ):
            raise ValidationError(f"prompt {name}: needs one system and then one user section")
        return cls(name, text, hashlib.sha256(text.encode("utf-8")).hexdigest())

    def render(self, inp: AnalysisInput) -> RenderedPrompt:
        values = {
            "vertical": inp.vertical,
            "city": inp.city or "an unknown city",
            "categories": ", ".join(inp.categories) or "none given",
            "location_count": str(inp.location_count),
            "scores": json.dumps(dict(sorted(inp.scores.items()))),
            "failure_count": str(len(inp.failures)),
            "evidence": json.dumps(evidence_payload(inp.evidence), ensure_ascii=False),
        }
        system, user = self.text.split(_USER, 1)
        system = system.split(_SYSTEM, 1)[1]
        return RenderedPrompt(
            Template(system.strip()).substitute(values), Template(user.strip()).substitute(values)
        )


def load_template(name: str = DEFAULT_PROMPT) -> PromptTemplate:
    """A packaged template by name (`prompts/<name>.txt`)."""
    if not name.replace("_", "").isalnum():
        raise ValidationError("prompt names are letters, digits and underscores")
    folder = resources.files("tenantry.insight.analysis").joinpath("prompts")
    try:
        text = folder.joinpath(f"{name}.txt").read_text("utf-8")
    except FileNotFoundError:
        raise ValidationError(f"no prompt template {name}") from None
    return PromptTemplate.from_text(name, text)
