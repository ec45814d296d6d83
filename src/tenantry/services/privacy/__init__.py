"""Privacy workflows: the subject's footprint, access export, erasure, data-subject requests,
the scan that proves an erasure, consent, double opt-in, and retention with legal holds.

They build on the low-level key and sealing code in `tenantry.privacy`. The functions the API
and the CLI call (export, erasure, requests, scan, recording and reading consent, double
opt-in, retention and legal holds) act for a `Principal` and check its permissions themselves,
so both entrypoints are held to the same rules; internal code uses the unchecked steps.
"""
