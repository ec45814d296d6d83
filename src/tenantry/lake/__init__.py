"""The analytics lake: Delta tables under `$TENANTRY_HOME/lake/{raw,curated,ml}`."""
