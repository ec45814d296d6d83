"""The processing register (GDPR Art. 30): every column of every table, classified.

Each table declares its purpose, legal basis (Art. 6(1)), the kind of data subject and the
retention rule that applies. Each column gets a data category: from its personal-data marking
(`info={"pii": ...}`), an explicit `info={"category": ...}`, or the naming conventions below.
A column that matches none is *unclassified*; a test fails on any, so a new column cannot slip
in unclassified.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.models import Base

__all__ = ["TABLES", "ColumnEntry", "TableEntry", "register", "unclassified"]


@dataclass(frozen=True)
class TableEntry:
    purpose: str
    legal_basis: str
    subjects: str
    retention: str


_CONTRACT, _LEGIT, _LEGAL, _CONSENT = (
    "contract (Art. 6(1)(b))",
    "legitimate interests (Art. 6(1)(f))",
    "legal obligation (Art. 6(1)(c))",
    "consent (Art. 6(1)(a))",
)
_LIFETIME = "lifetime of the account"
_NONE = "none (no personal data)"

TABLES: dict[str, TableEntry] = {
    "identity.tenants": TableEntry(
        "customer account of the SaaS", _CONTRACT, "business contacts (DPO)", _LIFETIME
    ),
    "identity.locations": TableEntry("business locations of a tenant", _CONTRACT, _NONE, _LIFETIME),
    "identity.users": TableEntry("login and access control", _CONTRACT, "tenant staff", _LIFETIME),
    "identity.memberships": TableEntry("access control", _CONTRACT, "tenant staff", _LIFETIME),
    "identity.membership_locations": TableEntry(
        "access control", _CONTRACT, "tenant staff", _LIFETIME
    ),
    "identity.identity_links": TableEntry(
        "identity resolution across channels", _CONTRACT, "tenant staff", "24 months (seed 001)"
    ),
    "crm.customers": TableEntry(
        "customer relationship",
        _CONTRACT,
        "end customers",
        "crm.customers: anonymised after 36 months inactive",
    ),
    "crm.vehicles": TableEntry(
        "workshop service and inspection reminders", _CONTRACT, "end customers", "with the customer"
    ),
    "crm.leads": TableEntry(
        "lead management",
        _LEGIT,
        "prospective customers",
        "crm.leads: anonymised after 36 months inactive",
    ),
    "crm.lead_score_history": TableEntry(
        "lead scoring", _LEGIT, "prospective customers", "with the lead"
    ),
    "crm.lead_interactions": TableEntry(
        "lead management", _LEGIT, "prospective customers", "with the lead"
    ),
    "commerce.services": TableEntry("service catalog", _CONTRACT, _NONE, _LIFETIME),
    "commerce.bookings": TableEntry(
        "performing the booked service", _CONTRACT, "end customers", "with the customer"
    ),
    "commerce.booking_items": TableEntry(
        "performing the booked service", _CONTRACT, _NONE, "with the booking"
    ),
    "commerce.payments": TableEntry(
        "accounting vouchers",
        _LEGAL,
        "end customers, payers",
        "commerce.payments: 8 years from year end",
    ),
    "commerce.invoices": TableEntry(
        "accounting vouchers", _LEGAL, "end customers", "commerce.invoices: 8 years from year end"
    ),
    "commerce.payment_notifications": TableEntry(
        "matching incoming payments", _LEGIT, "payers", "with the payment"
    ),
    "commerce.match_decisions": TableEntry(
        "accountability of payment matching", _LEGIT, _NONE, "with the notification"
    ),
    "commerce.payer_aliases": TableEntry(
        "recognising confirmed alternative payers", _LEGIT, "payers", "with the customer"
    ),
    "commerce.invoice_lines": TableEntry(
        "accounting vouchers (lines of invoices and credit notes)",
        _LEGAL,
        _NONE,
        "with the invoice",
    ),
    "commerce.invoice_counters": TableEntry(
        "gapless invoice numbering (GoBD)", _LEGAL, _NONE, _LIFETIME
    ),
    "commerce.coupons": TableEntry(
        "compensating a customer's complaint (review coupons, seed 004)",
        _CONTRACT,
        "end customers",
        "with the review; deleted on erasure",
    ),
    "engage.threads": TableEntry(
        "customer communication", _CONTRACT, "end customers, prospects", "with the messages"
    ),
    "engage.messages": TableEntry(
        "business letters",
        _LEGAL,
        "end customers, prospects",
        "engage.messages: 6 years from year end",
    ),
    "engage.reviews": TableEntry(
        "reputation management", _LEGIT, "reviewers", "24 months (seed 001)"
    ),
    "engage.chat_messages": TableEntry(
        "customer communication (chat: web, SMS, social, voice transcripts)",
        _CONTRACT,
        "end customers, prospects",
        "90 days (seed 002): monthly partitions dropped whole",
    ),
    "engage.escalations": TableEntry(
        "handing a conversation to a person",
        _CONTRACT,
        "end customers, prospects",
        "with the thread",
    ),
    "engage.message_purges": TableEntry(
        "proof of the chat retention (row counts per month)", _LEGAL, _NONE, _LIFETIME
    ),
    "engage.campaigns": TableEntry("marketing campaigns", _CONSENT, _NONE, _LIFETIME),
    "engage.email_events": TableEntry(
        "e-mail deliverability", _LEGIT, "recipients", "engage.email_events: 18 months"
    ),
    "channel.connections": TableEntry(
        "platform integrations (GBP, Meta)",
        _CONTRACT,
        "tenant staff (OAuth tokens)",
        "until disconnected",
    ),
    "commerce.webhook_endpoints": TableEntry(
        "receiving signed payment webhooks (endpoint signing secrets)",
        _CONTRACT,
        _NONE,
        "until revoked, then with the account",
    ),
    "commerce.mailbox_cursors": TableEntry(
        "reading payment notifications from the tenant's mailbox (read position)",
        _CONTRACT,
        _NONE,
        _LIFETIME,
    ),
    "insight.visibility_checks": TableEntry(
        "visibility check", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.evidence": TableEntry(
        "evidence behind AI statements", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.recommendations": TableEntry(
        "recommendations", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.retrievals": TableEntry(
        "evidence behind AI statements (the retrieved bytes)",
        _CONTRACT,
        "persons a public page names (a sole trader): sealed",
        "24 months (seed 001)",
    ),
    "insight.analysis_runs": TableEntry(
        "traceability of AI statements", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.statements": TableEntry(
        "visibility check results", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.statement_evidence": TableEntry(
        "visibility check results", _CONTRACT, _NONE, "with the statement"
    ),
    "insight.prompts": TableEntry("traceability of AI statements", _CONTRACT, _NONE, "indefinite"),
    "insight.recommendation_evidence": TableEntry(
        "recommendations", _CONTRACT, _NONE, "with the recommendation"
    ),
    "insight.analytics_snapshots": TableEntry(
        "trend analysis", _CONTRACT, _NONE, "24 months (seed 001)"
    ),
    "insight.benchmarks": TableEntry(
        "industry benchmarks", _LEGIT, _NONE, "indefinite (aggregates)"
    ),
    "audit.log": TableEntry(
        "tamper-evident record of every change",
        _LEGAL,
        "all (values of personal columns redacted)",
        "10 years (TENANTRY_AUDIT_RETENTION_MONTHS)",
    ),
    "audit.chain_heads": TableEntry("hash chain state", _LEGAL, _NONE, "with the trail"),
    "audit.checkpoints": TableEntry("signed chain heads", _LEGAL, _NONE, "with the trail"),
    "audit.redacted_columns": TableEntry(
        "which columns the trail redacts", _LEGAL, _NONE, "indefinite"
    ),
    "privacy.tenant_keys": TableEntry("encryption keys", _LEGAL, _NONE, _LIFETIME),
    "privacy.platform_keys": TableEntry("encryption keys", _LEGAL, _NONE, _LIFETIME),
    "privacy.subjects": TableEntry(
        "data subject registry", _LEGAL, "all data subjects", "until erasure"
    ),
    "privacy.subject_keys": TableEntry(
        "crypto-shredding keys", _LEGAL, "all data subjects", "destroyed on erasure"
    ),
    "privacy.consent_journal": TableEntry(
        "proof of consent",
        _LEGAL,
        "all data subjects",
        "privacy.consent_journal: 3 years after supersession",
    ),
    "privacy.doi_tokens": TableEntry(
        "double opt-in", _CONSENT, "subscribers", "privacy.doi_tokens: 7 days unconfirmed"
    ),
    "privacy.retention_defaults": TableEntry("retention rules", _LEGAL, _NONE, "indefinite"),
    "privacy.retention_policies": TableEntry("retention rules", _LEGAL, _NONE, _LIFETIME),
    "privacy.dsar_requests": TableEntry(
        "handling data-subject requests", _LEGAL, "requesters (by blind index)", "10 years"
    ),
    "privacy.erasure_receipts": TableEntry(
        "proof of erasure (no personal data)", _LEGAL, _NONE, "10 years"
    ),
    "privacy.legal_holds": TableEntry("legal holds", _LEGAL, _NONE, "until released + 10 years"),
    "events.inbox": TableEntry(
        "product analytics (ingested events)",
        _CONSENT,
        "app users with analytics consent (pseudonymous ids)",
        "30 days after relay (tenantry events prune); the subject's rows on erasure",
    ),
    "events.outbox": TableEntry(
        "propagating domain changes to the lake",
        _CONTRACT,
        _NONE,
        "30 days after relay (tenantry events prune)",
    ),
    "events.projection_positions": TableEntry("projection state", _CONTRACT, _NONE, _LIFETIME),
    "audit.bulk_batches": TableEntry(
        "tamper evidence of bulk loads (Merkle roots)", _LEGAL, _NONE, "with the trail"
    ),
    "audit.bulk_rows": TableEntry(
        "tamper evidence of bulk-loaded rows (hashes)", _LEGAL, _NONE, "with the trail"
    ),
    **{
        f"migrate.{t}": TableEntry(
            "bookkeeping of a migration from a legacy database",
            _CONTRACT,
            _NONE,
            "until the migration run is dropped",
        )
        for t in ("runs", "id_map", "lineage", "progress", "verifications")
    },
    "events.relay_positions": TableEntry("relay state", _CONTRACT, _NONE, "indefinite"),
    "identity.api_keys": TableEntry(
        "API access control", _CONTRACT, _NONE, "until revoked (hash of the secret only)"
    ),
    "events.idempotency_keys": TableEntry(
        "safe retries of API writes", _LEGIT, _NONE, "24 hours (no personal data copied)"
    ),
    **{
        f"scheduling.{t}": TableEntry("scheduling setup of a location", _CONTRACT, _NONE, _LIFETIME)
        for t in ("opening_hours", "date_exceptions", "service_requirements", "daily_capacity")
    },
    "scheduling.resources": TableEntry(
        "scheduling setup of a location",
        _CONTRACT,
        "tenant staff (a staff resource may carry a first name)",
        _LIFETIME,
    ),
    **{
        f"scheduling.{t}": TableEntry(
            "performing the booked service (resources and capacity held)",
            _CONTRACT,
            _NONE,
            "with the booking (released when it is cancelled or deleted)",
        )
        for t in ("capacity_claims", "reservations", "reservation_slots")
    },
    **{
        f"decisions.{t}": TableEntry(
            "experiments on the product (definitions and learnt rates)", _LEGIT, _NONE, _LIFETIME
        )
        for t in ("experiments", "experiment_arms", "posteriors")
    },
    "decisions.decisions": TableEntry(
        "experiments on the product: the decision log (pseudonymous), seed 001",
        _CONSENT,
        "end users of the tenant (by pseudonym)",
        "with the experiment; erased with the subject",
    ),
}

_PII_CATEGORY = {
    "name": "identification data (name)",
    "email": "contact data (e-mail)",
    "phone": "contact data (phone)",
    "address": "contact data (address)",
    "identifier": "identification data (vehicle plate, VIN)",
    "free_text": "free text that may contain personal data",
    "secret": "credentials (OAuth tokens)",
    "keyed_hash": "keyed hash of personal data (blind index, pseudonym)",
    "key_material": "key material (wrapped data keys)",
}
_TECHNICAL = {
    "id",
    "tenant_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "version",
    "status",
    "kind",
    "source",
    "purpose",
    "is_active",
    "slug",
}


_BUSINESS = "business data"
_BUSINESS_CONTACT = "business contact data (of a company, not a person)"
_CONTENT = "generated content (no personal data)"
_CONFIG = "configuration"
_COLUMNS: dict[str, str] = {
    **{
        f"identity.locations.{c}": _BUSINESS_CONTACT
        for c in (
            "name",
            "street",
            "house_number",
            "postal_code",
            "city",
            "region",
            "country",
            "phone",
            "email",
            "website",
        )
    },
    **{
        f"identity.locations.{c}": _BUSINESS
        for c in ("categories", "cuisine", "opening_hours", "timezone")
    },
    **{
        f"identity.tenants.{c}": _BUSINESS_CONTACT
        for c in ("legal_name", "display_name", "country", "commercial_register")
    },
    "identity.tenants.locale": _CONFIG,
    "identity.tenants.timezone": _CONFIG,
    "identity.users.locale": _CONFIG,
    "identity.identity_links.attributes": "external account metadata (no personal data)",
    "channel.connections.display_name": _BUSINESS_CONTACT,
    "channel.connections.scopes": _CONFIG,
    "channel.connections.last_error": "technical (error message)",
    "crm.customers.company_name": _BUSINESS_CONTACT,
    "crm.customers.country": _BUSINESS,
    "crm.customers.language": _CONFIG,
    "crm.customers.tags": _BUSINESS,
    "crm.vehicles.make": _BUSINESS,
    "crm.vehicles.model": _BUSINESS,
    **{
        f"crm.leads.{c}": _BUSINESS
        for c in ("interest", "utm_source", "utm_medium", "utm_campaign", "lost_reason")
    },
    "crm.lead_interactions.outcome": _BUSINESS,
    "crm.lead_score_history.reason": _BUSINESS,
    "crm.lead_score_history.model_version": _CONFIG,
    "commerce.booking_items.description": _BUSINESS,
    "commerce.bookings.cancellation_reason": _BUSINESS,
    "commerce.invoices.number": _BUSINESS,
    **{
        f"commerce.invoices.{c}": "business contact data (the issuing business)"
        for c in ("seller_name", "seller_vat_id", "seller_register", "seller_address")
    },
    "commerce.invoices.reason": _BUSINESS,
    "commerce.invoice_lines.description": _BUSINESS,
    "commerce.invoice_counters.series": _CONFIG,
    "commerce.payments.refund_reason": _BUSINESS,
    "commerce.coupons.issued_by": "actor reference (user id or role)",
    "commerce.payment_notifications.provider": _BUSINESS,
    "commerce.payment_notifications.bank": _BUSINESS,
    "commerce.payment_notifications.raw_sha256": "hash of a received message (duplicate check)",
    "commerce.payment_notifications.trust_reason": "technical (verdict on a signature)",
    "commerce.payment_notifications.signing_domain": "technical (a provider's domain)",
    "commerce.payment_notifications.reasons": "match reasons (features and weights, no values)",
    "commerce.payment_notifications.decided_by": "actor reference (user id or role)",
    "commerce.match_decisions.reasons": "match reasons (features and weights, no values)",
    "commerce.match_decisions.decided_by": "actor reference (user id or role)",
    "commerce.payer_aliases.confirmed_by": "actor reference (user id or role)",
    "commerce.payments.provider": _BUSINESS,
    "commerce.payments.provider_ref": "reference (payment provider id)",
    **{f"commerce.services.{c}": _BUSINESS for c in ("name", "description", "category")},
    **{
        f"engage.campaigns.{c}": _BUSINESS
        for c in ("name", "channel", "subject_variant", "copy_variant")
    },
    "engage.reviews.response_body": "business reply (written by the tenant)",
    "engage.escalations.escalated_by": "actor reference (user id or role)",
    "engage.message_purges.month": "event time",
    "engage.message_purges.partition_name": _CONFIG,
    "insight.analytics_snapshots.metric": _BUSINESS,
    "insight.benchmarks.region": _BUSINESS,
    "insight.benchmarks.metric": _BUSINESS,
    "insight.benchmarks.category": _BUSINESS,
    **{f"insight.evidence.{c}": _CONTENT for c in ("claim", "source_url", "fact_key", "value")},
    **{
        f"insight.evidence.{c}": _CONFIG
        for c in ("model_version", "extractor", "extractor_version", "superseded_by")
    },
    **{f"insight.retrievals.{c}": _CONTENT for c in ("uri", "content_type", "error")},
    "insight.retrievals.collector": _CONFIG,
    **{
        f"insight.analysis_runs.{c}": _CONFIG
        for c in ("provider", "model", "prompt_version", "error")
    },
    **{f"insight.analysis_runs.{c}": _CONTENT for c in ("output", "rejections")},
    **{f"insight.prompts.{c}": _CONFIG for c in ("name", "body")},
    **{f"insight.statements.{c}": _CONTENT for c in ("text", "data")},
    **{
        f"insight.visibility_checks.{c}": _CONFIG
        for c in ("requested_by", "analyser", "rubric_version")
    },
    **{f"insight.visibility_checks.{c}": _CONTENT for c in ("failures", "error")},
    **{
        f"insight.recommendations.{c}": _CONTENT
        for c in ("title", "body", "category", "expected_impact")
    },
    "insight.visibility_checks.results": _CONTENT,
    "privacy.consent_journal.notice_version": _CONFIG,
    "privacy.doi_tokens.notice_version": _CONFIG,
    **{f"privacy.legal_holds.{c}": _CONFIG for c in ("dataset", "reason", "placed_by")},
    "privacy.retention_defaults.dataset": _CONFIG,
    "privacy.retention_defaults.reference": _CONFIG,
    **{
        f"audit.log.{c}": "change metadata (no personal values)"
        for c in ("table_name", "op", "actor", "changed_columns", "redacted_columns")
    },
    "audit.log.old_values": "changed values of non-personal columns",
    "audit.log.new_values": "changed values of non-personal columns",
    "audit.log.encrypted_values": "personal values encrypted under the subject key (reserved)",
    **{
        f"audit.{c}": "keyed hash (blind index or pseudonym)"
        for c in ("log.prev_hash", "log.hash", "chain_heads.head_hash", "chain_heads.base_hash")
    },
    "audit.checkpoints.payload": "signed chain heads (hashes)",
    "audit.checkpoints.signature": "signature",
    "audit.checkpoints.public_key": "signature",
    "audit.redacted_columns.table_name": _CONFIG,
    "audit.redacted_columns.column_name": _CONFIG,
    "privacy.dsar_requests.extension_reason": _CONFIG,
    "privacy.dsar_requests.outcome": _CONFIG,
    "privacy.erasure_receipts.erased_lookup": "keyed hash (blind index or pseudonym)",
    "privacy.erasure_receipts.replacement": "unlinkable replacement token",
    "privacy.erasure_receipts.summary": "counts per table (no personal data)",
    "privacy.erasure_receipts.receipt_hash": "keyed hash (blind index or pseudonym)",
    **{
        f"events.{c}": "technical (transaction id)"
        for c in (
            "inbox.txid",
            "outbox.txid",
            "projection_positions.last_txid",
            "relay_positions.last_txid",
        )
    },
    "events.inbox.event_type": _CONFIG,
    "events.inbox.event_ts": "event time",
    "events.outbox.event_type": _CONFIG,
    "events.outbox.aggregate_type": _CONFIG,
    "privacy.retention_policies.dataset": _CONFIG,
    "privacy.retention_policies.reason": _CONFIG,
    "identity.api_keys.name": _CONFIG,
    "identity.api_keys.prefix": "public part of a credential (no secret)",
    "identity.api_keys.secret_hash": "credential hash (SHA-256 of a random secret)",
    "events.idempotency_keys.principal_ref": "reference (pseudonymous identifier)",
    "events.idempotency_keys.key": "technical (client-chosen retry key)",
    "events.idempotency_keys.salt": "technical (random salt)",
    "events.idempotency_keys.request_hash": "salted hash of a request body",
    "events.idempotency_keys.resource_kind": "technical (keys, state, timestamps)",
    "events.idempotency_keys.response_body": "response without personal data",
    "audit.bulk_batches.table_name": _CONFIG,
    "audit.bulk_rows.table_name": _CONFIG,
    "audit.bulk_rows.leaf": "hash of a loaded row (tamper evidence, not reversible)",
    **{
        f"migrate.{c}": _CONFIG
        for c in (
            "id_map.run",
            "id_map.entity",
            "id_map.outcome",
            "id_map.canonical_table",
            "lineage.run",
            "lineage.canonical_table",
            "lineage.column_name",
            "lineage.entity",
            "progress.run",
            "progress.entity",
            "runs.name",
            "runs.mapping",
            "runs.phase",
            "runs.slot",
            "runs.publication",
            "verifications.run",
        )
    },
    **{
        f"migrate.{c}": "reference (a legacy row's key)"
        for c in ("id_map.source_key", "lineage.source_key", "progress.last_key")
    },
    "migrate.id_map.canonical_tenant": "reference (pseudonymous identifier)",
    "migrate.id_map.reason": "quarantine reason (names columns and problems, never values)",
    "migrate.id_map.refs": "reference (legacy keys of the rows a row referenced)",
    "migrate.runs.rollback_until": "event time",
    "migrate.verifications.report": "verification report (keys, ids and columns, no values)",
    "scheduling.resources.name": "business data (label of a resource: a role or first name)",
    "scheduling.date_exceptions.reason": _BUSINESS,
    **{
        f"scheduling.{c}": "event time"
        for c in (
            "date_exceptions.on_date",
            "daily_capacity.on_date",
            "capacity_claims.on_date",
            "reservation_slots.slot",
        )
    },
    "commerce.webhook_endpoints.label": _CONFIG,
    "commerce.mailbox_cursors.uidvalidity": "technical (IMAP mailbox position)",
    "commerce.mailbox_cursors.last_uid": "technical (IMAP mailbox position)",
}


@dataclass(frozen=True)
class ColumnEntry:
    table: str
    column: str
    category: str
    personal: bool
    purpose: str
    legal_basis: str
    subjects: str
    retention: str
    protection: str


def _protection(column: sa.Column[object]) -> str:
    """How the value is protected at rest (GDPR Art. 30(1)(g), Art. 32)."""
    if column.info.get("sealed"):
        if "subject_id" in column.table.c:
            return "AES-256-GCM under the data subject's key (crypto-shredded on erasure)"
        if "tenant_id" not in column.table.c:
            return "AES-256-GCM under the platform records key"
        return "AES-256-GCM under the tenant's records key"
    kind = column.info.get("pii")
    if kind == "keyed_hash":
        return "keyed HMAC-SHA256 (tenant key), value not stored"
    if kind == "key_material":
        return "wrapped (AES-256-GCM) by the tenant or master key"
    if kind is not None:
        return "plain text"
    return "row level security"


def _category(column: sa.Column[object]) -> str | None:
    if "pii" in column.info:
        return _PII_CATEGORY.get(column.info["pii"])
    if "category" in column.info:
        return str(column.info["category"])
    explicit = _COLUMNS.get(f"{column.table.fullname}.{column.name}")
    if explicit:
        return explicit
    name = column.name
    if name in _TECHNICAL:
        return "technical (keys, state, timestamps)"
    if name.endswith("_id") or name.endswith("_ids"):
        return "reference (pseudonymous identifier)"
    if name.endswith("_bidx") or name in {"pseudonym", "token_hash", "notice_hash", "content_hash"}:
        return "keyed hash (blind index or pseudonym)"
    if name.endswith("_at") or name.endswith("_on") or name.startswith("period_"):
        return "event time"
    if name.endswith("_cents") or name in {"currency", "vat_rate_bp", "quantity"}:
        return "financial data"
    if name in {"wrapped_key", "master_key_id"}:
        return "key material (wrapped)"
    if isinstance(
        column.type,
        (sa.Enum, sa.Boolean, sa.Numeric, sa.Integer, sa.Float, sa.SmallInteger, sa.BigInteger),
    ):
        return "business data (codes, flags, figures)"
    return None


def register() -> list[ColumnEntry]:
    """The record of processing activities, one entry per column."""
    entries = []
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.fullname):
        info = TABLES.get(table.fullname)
        for column in table.c:
            category = _category(column)
            entries.append(
                ColumnEntry(
                    table=table.fullname,
                    column=column.name,
                    category=category or "UNCLASSIFIED",
                    personal="pii" in column.info,
                    purpose=info.purpose if info else "UNCLASSIFIED",
                    legal_basis=info.legal_basis if info else "UNCLASSIFIED",
                    subjects=info.subjects if info else "UNCLASSIFIED",
                    retention=info.retention if info else "UNCLASSIFIED",
                    protection=_protection(column),
                )
            )
    return entries


def unclassified() -> list[str]:
    """Tables without a register entry and columns without a category."""
    missing = [t for t in sorted(Base.metadata.tables) if t not in TABLES]
    missing += [f"{e.table}.{e.column}" for e in register() if e.category == "UNCLASSIFIED"]
    return missing
