"""Demo privacy flows: consent with double opt-in and gating, an access export, and an
erasure with its receipt and scan. Idempotent like the other demo flows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenantry.db.engine import Database
from tenantry.models import Booking, Customer, Payment
from tenantry.models.enums import ConsentPurpose, MembershipRole
from tenantry.privacy.subjects import find_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import Notice, consent_status
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in
from tenantry.services.privacy.erasure import erase_subject, was_erased
from tenantry.services.privacy.export import export_subject, seal_bundle, write_private

__all__ = ["PrivacyDemo", "run_privacy_demo"]

NOTICE = Notice("2026-11", "Hibachi Heroes sends a newsletter twice a month. Withdraw any time.")
SUBSCRIBER = "newsletter.demo@example.org"
LEAVER = "privacy.demo@example.org"
EXPORT_NAME = "privacy-demo.zip.sealed"


@dataclass
class PrivacyDemo:
    consent: list[tuple[str, str]] = field(default_factory=list)
    export: str = ""
    erasure: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _consent(db: Database, tenant_id: object, out: PrivacyDemo) -> None:
    with db.tenant_uow(tenant_id, actor="demo") as uow:  # type: ignore[arg-type]
        ring = keyring(uow)
        subject = find_subject(uow, ring, email=SUBSCRIBER)
        if subject is None:
            pending = issue_opt_in(
                uow, ring, email=SUBSCRIBER, purpose=ConsentPurpose.MARKETING_EMAIL, notice=NOTICE
            )
            redeem_opt_in(uow, ring, pending.token, notice=NOTICE, email=SUBSCRIBER)
            uow.commit()
            out.notes.append("double opt-in started and confirmed (token stored only as a hash)")
            subject = find_subject(uow, ring, email=SUBSCRIBER)
        assert subject is not None
        for purpose in (ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.ANALYTICS):
            status = consent_status(uow, subject.id, purpose)
            verdict = "allowed" if status.active else f"refused ({status.reason})"
            out.consent.append((purpose.value, verdict))


def _leaver(db: Database, tenant_id: object, location_id: object) -> None:
    """A customer who booked once, paid, and now asks for access and then erasure."""
    with db.platform_uow(tenant_id=tenant_id) as uow:  # type: ignore[arg-type]
        s, t = uow.session, tenant_id
        customer = Customer(
            tenant_id=t,
            id=uow.ids(),
            first_name="Paula",
            last_name="Privacy",
            email=LEAVER,
            phone="+49 30 9876543",
            street="Datenweg 17",
            city="Berlin",
        )
        s.add(customer)
        s.flush()
        start = datetime.now(UTC) - timedelta(days=40)
        booking = Booking(
            tenant_id=t,
            id=uow.ids(),
            location_id=location_id,
            customer_id=customer.id,
            kind="catering_event",
            status="fulfilled",
            starts_at=start,
            total_cents=88_000,
            guest_count=16,
            event_address="Datenweg 17, Berlin",
            fulfilled_at=start,
        )
        s.add(booking)
        s.flush()
        s.add(
            Payment(
                tenant_id=t,
                id=uow.ids(),
                booking_id=booking.id,
                customer_id=customer.id,
                kind="full",
                method="card",
                status="succeeded",
                amount_cents=88_000,
                payer_name="Paula Privacy",
                paid_at=start,
            )
        )
        uow.commit()


def run_privacy_demo(
    db: Database, home: Path, tenant_id: object, location_id: object
) -> PrivacyDemo:
    out = PrivacyDemo()
    _consent(db, tenant_id, out)
    exports = home / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    with db.tenant_uow(tenant_id, actor="demo") as uow:  # type: ignore[arg-type]
        if was_erased(uow, keyring(uow), LEAVER):
            out.notes.append("the demo customer was erased in an earlier run (receipt on file)")
            return out
    _leaver(db, tenant_id, location_id)
    dpo = Principal(tenant_id=tenant_id, role=MembershipRole.DPO)  # type: ignore[arg-type]
    # Kept sealed under the customer's key: the erasure below shreds it.
    (exports / "privacy-demo.zip").unlink(missing_ok=True)  # plaintext left by older versions
    with db.tenant_uow(tenant_id, actor="demo") as uow:  # type: ignore[arg-type]
        result = export_subject(uow, dpo, LEAVER, lake_home=home)
        kept = write_private(seal_bundle(keyring(uow), result), exports / EXPORT_NAME)
        uow.commit()
    out.export = f"{result.rows} records from {result.tables} places -> {kept.name} (sealed)"
    with db.tenant_uow(tenant_id, actor="demo") as uow:  # type: ignore[arg-type]
        erased = erase_subject(uow, dpo, LEAVER, lake_home=home)
        uow.commit()
    for table, actions in sorted(erased.receipt.summary.items()):
        for action, n in actions.items():
            out.erasure.append((f"{table}: {action}", str(n)))
    out.erasure.append(
        ("scan of every column of every table and the lake", f"{len(erased.hits)} hit(s)")
    )
    return out
