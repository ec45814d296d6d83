"""Privacy workflows: the subject's footprint, access export, erasure, data-subject requests,
the scan that proves an erasure, consent, double opt-in, and retention with legal holds.

They build on the low-level key and sealing code in `tenantry.privacy`. Export, erasure,
requests and scan act for a `Principal` and check its permissions themselves, so the API and
the CLI are held to the same rules.
"""
