"""Migration toolkit."""
