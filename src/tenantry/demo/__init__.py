"""The demo: three realistic tenants, sample flows through the services, and a summary."""
