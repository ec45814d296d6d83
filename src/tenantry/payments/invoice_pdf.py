"""The printable PDF of an invoice or credit note (fpdf2), the same bytes every time.

It shows the seller (legal name, address, VAT id, register), the buyer, the number, the dates
(issue, due), the lines with quantity, unit price, VAT rate and gross amount, the totals (net,
VAT per rate, gross) and, on a credit note, the invoice it corrects. Rendering is pure: it
reads the values it is given and does no I/O. The PDF's creation date is the day of issue and
its file id derives from the content, so one invoice always renders to the same bytes.

The built-in PDF fonts cover Latin-1 only: other characters are written in their closest
Latin-1 form (accents dropped where needed), never omitted silently as an empty string.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from fpdf import FPDF

from tenantry.models import Invoice, InvoiceLine
from tenantry.models.enums import InvoiceKind

__all__ = ["Correction", "render_invoice_pdf"]


@dataclass(frozen=True)
class Correction:
    """The invoice a credit note corrects, as the credit note names it."""

    number: str
    issued_on: str


def _latin1(text: str | None) -> str:
    if not text:
        return ""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(plain or "?")
    return "".join(out)


def _money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d} {currency}"


def _rate(bp: int) -> str:
    return f"{bp / 100:g} %"


def render_invoice_pdf(
    invoice: Invoice, lines: Sequence[InvoiceLine], correction: Correction | None = None
) -> bytes:
    """The PDF of `invoice` with its `lines` (a credit note names its `correction`)."""
    credit = invoice.kind is InvoiceKind.CREDIT_NOTE
    title = "Credit note" if credit else "Invoice"
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.combine(invoice.issued_on, time(), tzinfo=UTC))
    pdf.set_title(f"{title} {invoice.number}")
    pdf.set_author(_latin1(invoice.seller_name) or "tenantry")
    pdf.set_creator("tenantry")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    seller = [invoice.seller_name, invoice.seller_address]
    pdf.multi_cell(0, 4.5, _latin1("\n".join(s for s in seller if s)) or "-", new_x="LMARGIN")
    extra = []
    if invoice.seller_vat_id:
        extra.append(f"VAT id: {invoice.seller_vat_id}")
    if invoice.seller_register:
        extra.append(invoice.seller_register)
    if extra:
        pdf.multi_cell(0, 4.5, _latin1(" | ".join(extra)), new_x="LMARGIN")
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=9)
    pdf.cell(0, 5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    buyer = "\n".join(s for s in (invoice.billing_name, invoice.billing_address) if s)
    pdf.multi_cell(0, 4.5, _latin1(buyer) or "-", new_x="LMARGIN")
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, f"{title} {invoice.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 5, f"Date of issue: {invoice.issued_on.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    if invoice.due_on is not None and not credit:
        pdf.cell(0, 5, f"Due: {invoice.due_on.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    if correction is not None:
        pdf.cell(
            0,
            5,
            f"Corrects invoice {correction.number} of {correction.issued_on}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    if invoice.reason:
        pdf.multi_cell(0, 5, _latin1(f"Reason: {invoice.reason}"), new_x="LMARGIN")
    pdf.ln(4)
    widths = (10, 80, 15, 30, 20, 35)
    heads = ("#", "Description", "Qty", "Unit price", "VAT", "Amount")
    pdf.set_font("Helvetica", style="B", size=9)
    for w, head in zip(widths, heads, strict=True):
        pdf.cell(w, 6, head, border="B", align="L" if head == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    cur = invoice.currency
    for line in lines:
        cells = (
            str(line.position),
            _latin1(line.description)[:60],
            str(line.quantity),
            _money(line.unit_price_cents, cur),
            _rate(line.vat_rate_bp),
            _money(line.gross_cents, cur),
        )
        for w, text, head in zip(widths, cells, heads, strict=True):
            pdf.cell(w, 6, text, align="L" if head == "Description" else "R")
        pdf.ln()
    pdf.ln(3)
    by_rate: dict[int, tuple[int, int]] = {}
    for line in lines:
        net, tax = by_rate.get(line.vat_rate_bp, (0, 0))
        by_rate[line.vat_rate_bp] = (net + line.net_cents, tax + line.tax_cents)
    totals = [("Net", _money(invoice.net_cents, cur))]
    for rate in sorted(by_rate):
        net, tax = by_rate[rate]
        totals.append((f"VAT {_rate(rate)} on {_money(net, cur)}", _money(tax, cur)))
    totals.append(("Total credited" if credit else "Total", _money(invoice.gross_cents, cur)))
    for label, value in totals:
        pdf.cell(sum(widths[:-1]), 5, label, align="R")
        pdf.cell(widths[-1], 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    note = "Prices include VAT." if not credit else "This credit note reduces the invoice named."
    pdf.cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
