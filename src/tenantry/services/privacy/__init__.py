"""Privacy workflows: access export, erasure, data-subject requests, and the scan that proves
an erasure. They act for a `Principal` and build on the low-level key and sealing code in
`tenantry.privacy`; nothing below the service layer imports them."""
