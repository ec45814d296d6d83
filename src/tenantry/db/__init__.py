"""Database adapter: server provider, engines, unit of work, repositories' base, migrations.

Nothing in this package runs at import time; `open_database()` builds everything.
"""
