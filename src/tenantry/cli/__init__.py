"""Command-line entrypoint (Typer). Commands parse arguments, call services, render with Rich."""
