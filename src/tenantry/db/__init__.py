"""Database adapter: server provider, engines, unit of work, repositories' base, migrations.

Nothing in this package runs at import time; `connect_database()` builds everything (the
composition root, `tenantry.composition.open_database`, adds the sealer of personal data).
Nothing here imports `tenantry.privacy`: the dependency runs one way.
"""
