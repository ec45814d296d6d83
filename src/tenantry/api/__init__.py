"""The HTTP API (FastAPI): entrypoint layer over the services; build it with `create_app`."""
