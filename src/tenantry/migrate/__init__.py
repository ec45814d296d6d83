"""Moving a live legacy PostgreSQL database into tenantry's canonical model (issue #17).

The package `migrate/` holds the mappings from legacy schemas to the canonical model, the load
from one consistent snapshot of the source, change-data capture from a logical replication
slot (`pgoutput`, `replication`), verification by checksums, consolidation of duplicates, and
cutover with rollback. It sits at the services level: it may use `db`, `privacy`, `audit` and
`models`, never the API or the CLI.
"""
