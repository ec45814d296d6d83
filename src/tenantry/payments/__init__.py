"""Payment reconciliation (seed 004): notifications from provider e-mails, Stripe webhooks and
bank statements become one record each, are checked for authenticity, matched one-to-one to
bookings with an open balance, and what cannot be decided goes to a review queue. Invoices with
gapless numbers, credit notes, refunds and review coupons live here too.
"""
