"""Analysers of the visibility check, and the one place that picks the configured one.

`rules` (the default): `RulesAnalyser`, deterministic and offline. `llm`:
`OpenAICompatibleAnalyser`, a chat model behind an OpenAI-compatible API. Analysers read
evidence and return statements; they never touch the database (the ledger records their runs).
"""

from __future__ import annotations

from tenantry.config import Settings
from tenantry.errors import ConfigurationError
from tenantry.insight.analysis.llm import OpenAICompatibleAnalyser
from tenantry.insight.analysis.rules import RulesAnalyser
from tenantry.insight.facts import Analyser

__all__ = ["OpenAICompatibleAnalyser", "RulesAnalyser", "make_analyser"]


def make_analyser(settings: Settings) -> Analyser:
    """The analyser `TENANTRY_VC_ANALYSER` names; `llm` needs `TENANTRY_LLM_BASE_URL`."""
    if settings.vc_analyser == "llm":
        if not settings.llm_base_url:
            raise ConfigurationError(
                "TENANTRY_VC_ANALYSER=llm needs TENANTRY_LLM_BASE_URL (an OpenAI-compatible API)"
            )
        return OpenAICompatibleAnalyser.from_settings(settings)
    return RulesAnalyser()
