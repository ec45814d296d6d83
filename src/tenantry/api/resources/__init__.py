"""The `/v1` resources: one module per resource, each with its schemas and endpoints.

Importing one resource module (its schemas, for the CLI) does not import the others: the app's
list of routers is `tenantry.api.registry`.
"""
