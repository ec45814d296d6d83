"""The deterministic data generator: realistic tenants, locations, customers, leads, bookings and
payments for the three verticals, loaded with COPY."""
