"""The event pipeline's front half: ingestion, identity resolution, outbox, relay, projections.

Ingested events land in `events.inbox`; domain changes in `events.outbox` (same transaction
as the change). The relay moves both, in order and exactly once, into the raw lake layer;
projections (identity links) read the inbox and store their position with their result.
"""
