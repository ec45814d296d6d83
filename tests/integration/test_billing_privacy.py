"""Billing records and the data subject: in the footprint, and erased as the law allows (issued
invoices keep their figures with the buyer pseudonymised, despite their immutability)."""

from __future__ import annotations

from tenantry.db.engine import Database
from tenantry.models import Coupon, Invoice
from tenantry.models.enums import BookingStatus, MembershipRole
from tenantry.payments import coupons, credit_notes, invoices
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Principal
from tenantry.services.privacy.erasure import erase_subject
from tenantry.services.privacy.footprint import find_footprint
from tests.billing import booking, customer, review
from tests.conftest import TenantFixture

EMAIL = "erika.billing@example.org"


def test_erasure_pseudonymises_issued_invoices_and_deletes_the_coupon(
    db: Database, tenant: TenantFixture
) -> None:
    person = customer(db, tenant, email=EMAIL)
    served = booking(
        db, tenant, customer_id=person, paid_cents=7070, status=BookingStatus.FULFILLED
    )
    complaint = review(db, tenant, served, rating=2)
    with db.tenant_uow(tenant.id) as uow:
        inv = invoices.issue_invoice(uow, tenant.principal(), served.booking_id)
        note = credit_notes.credit_invoice(uow, tenant.principal(), inv.id, amount_cents=500)
        coupon = coupons.issue_coupon(uow, tenant.principal(), complaint).coupon
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        fp = find_footprint(uow, keyring(uow), EMAIL)
        assert set(fp.ids("commerce.invoices")) == {inv.id, note.id}
        assert len(fp.ids("commerce.invoice_lines")) == 3
        assert fp.ids("commerce.coupons") == [coupon.id]
    dpo = Principal(tenant_id=tenant.id, role=MembershipRole.DPO)
    with db.tenant_uow(tenant.id) as uow:
        result = erase_subject(uow, dpo, EMAIL)
        uow.commit()
    assert result.hits == []
    assert "commerce.coupons" in result.receipt.summary
    with db.platform_uow(tenant_id=tenant.id) as uow:
        kept = uow.session.get(Invoice, (tenant.id, inv.id))
        assert kept is not None and kept.number == inv.number and kept.gross_cents == 7070
        assert kept.billing_name == result.receipt.replacement and kept.billing_address is None
        assert len(invoices.lines_of(uow, [inv.id])[inv.id]) == 2
        assert uow.session.get(Coupon, (tenant.id, coupon.id)) is None
