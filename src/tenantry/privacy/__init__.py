"""The privacy kernel: keys and encryption, blind indexes and pseudonyms, data subjects, the
processing register, consent and double opt-in, retention with legal holds.

Cross-cutting by design (DESIGN.md): services call into it, it uses the unit of work and the
models, and it never imports an entrypoint.
"""
