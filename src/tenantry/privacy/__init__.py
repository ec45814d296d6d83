"""The privacy kernel, low level: keys and encryption (`crypto`, `master`, `keys`, `vault`),
sealed personal data (`sealing`), data subjects with blind indexes and pseudonyms
(`subjects`), and the processing register (`catalog`).

It uses the unit of work and the models and imports nothing above them; the workflows built on
it (access export, erasure, requests, scan, consent, double opt-in, retention) are services in
`tenantry.services.privacy`.
"""
