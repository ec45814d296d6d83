"""Migration toolkit: bring a legacy database into tenantry (`tenantry migrate`)."""
