"""Built-in mappings (TOML files), found by name by `tenantry.migrate.mapping.load_mapping`."""
