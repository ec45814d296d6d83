"""The visibility check and its evidence ledger (seed 000 tiers 3 and 4).

`facts` holds the value types every part shares; `http` the guarded HTTP client; `collectors`
the sources; `confidence` and `rubric` the documented models; `analysis` the analysers (the
deterministic default and an OpenAI-compatible provider); `ledger` writes what was retrieved
and concluded; `flow` runs a check; `kpis`, `snapshots`, `benchmarks` and `provenance` read
the ledger back for operators and auditors.
"""
