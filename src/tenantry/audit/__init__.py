"""The tamper-evident audit trail: canonical encoding and hashing, verification, signed
checkpoints, row history and partition maintenance.

The trail itself is written by the database (triggers from migration 0100); this package reads,
checks and anchors it. Nothing here runs at import time.
"""
