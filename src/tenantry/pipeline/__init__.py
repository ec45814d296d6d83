"""The analytics pipeline (seed 001): raw events -> star schema, segments, ML features.

Modules: `catalog` (tables and build order), `sql/` (one SELECT per model), `runner`
(incremental runs, staging, publication), `quality` + `quality.toml` (DQDL rules compiled to
SQL, freshness SLAs), `freshness` (status), `runlog` (run/step/DQ log and watermark),
`lakeio` (Delta reads and commits), `synthetic` (generated raw events), `render` (Rich output).
"""

from __future__ import annotations

__all__: list[str] = []
