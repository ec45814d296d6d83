"""Use cases: (unit of work, principal, command) -> result.

Services check what the principal may do (role and location scope), apply domain rules and
stage changes through repositories. They never commit and never import an entrypoint framework.
"""
