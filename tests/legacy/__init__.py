"""Legacy source databases for the migration tests: their server and, later, their schemas."""
