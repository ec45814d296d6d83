"""Decision services: lead scoring with explanations, partner matching and credits,
experiments with a guarded Thompson-sampling bandit, and the personalization runtime.

Each area is a module (or a small package) of its own; they sit beside the other workflow
packages (`payments`, `scheduling`) and below the API and the CLI, so they never import
FastAPI or Typer and never commit: the caller owns the unit of work.
"""
