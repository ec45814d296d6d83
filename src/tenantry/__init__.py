"""tenantry: a GDPR-native, multi-tenant data platform on PostgreSQL.

The package root only names the version; every component is built by a factory function so
that nothing (engine, server, settings) is created at import time.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
