"""Payment notification sources: provider e-mails (Venmo, Zelle by bank, Stripe, PayPal), and
bank statements (CAMT.053, MT940), read from files, Maildirs and folders into `Notice` values.

This package parses and verifies; it stores nothing and matches nothing.
"""

from tenantry.payments.sources.camt import parse_camt053
from tenantry.payments.sources.email_notice import MAX_MESSAGE_BYTES, parse_email
from tenantry.payments.sources.paths import parse_workers, read_file, read_path
from tenantry.payments.sources.swift_mt940 import parse_mt940

__all__ = [
    "MAX_MESSAGE_BYTES",
    "parse_camt053",
    "parse_email",
    "parse_mt940",
    "parse_workers",
    "read_file",
    "read_path",
]
