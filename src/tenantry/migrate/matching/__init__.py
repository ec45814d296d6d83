"""Entity resolution for `tenantry migrate`: normalising, blocking, scoring, clustering and
survivorship of records that describe the same business or person; pure code, no I/O."""
