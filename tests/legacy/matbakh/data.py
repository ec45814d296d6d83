"""Generated data for the matbakh legacy fixture (tests/legacy/matbakh/schema.sql).

Owns: `apply_schema` (runs schema.sql) and `populate` (fills the schema with fake, seeded data
through COPY, with the messiness of the real product: the same restaurant in
`business_partners` and `business_profiles` spelled differently, free-text statuses, plaintext
OAuth tokens and card columns, an unparseable text timestamp, orphan keys, soft-deleted
partners). Must not: touch any database but the one it is given, use real personal data
(names are invented, e-mails are example.com/example.org, phones +49 30 ...).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

__all__ = ["SCHEMA_FILE", "apply_schema", "populate"]

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

_FIRST = ["Anna", "Bernd", "Carla", "Dieter", "Elif", "Farid", "Greta", "Hakan", "Ines", "Jonas"]
_LAST = ["Beispiel", "Muster", "Probe", "Testmann", "Fiktiv", "Platzhalter", "Demo", "Exempel"]
_KIND = ["Trattoria", "Bistro", "Imbiss", "Restaurant", "Cafe", "Brasserie", "Taverna"]
_WORD = ["Sonne", "Linde", "Anker", "Olive", "Zeder", "Hafen", "Garten", "Eck", "Stern", "Krone"]
_STREET = ["Beispielstr.", "Musterweg", "Probeallee", "Testplatz", "Fiktivgasse"]
_CITY = [("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln")]
_LEGAL = ["GmbH", "gmbh", "UG (haftungsbeschränkt)", "Einzelunternehmen", "e.K.", "GbR", None]
_PARTNER_STATUS = ["active", "Active", "aktiv", "pending", " Pending", "suspended"]
_VC_STATUS = ["pending", "Pending ", "analyzing", "completed", "COMPLETED", "failed", "expired"]
_CONSULT_STATUS = ["new", "neu", "offen", "In Bearbeitung", "contacted", "erledigt", "abgelehnt"]
_BOOKING_STATUS = ["pending", "confirmed", "active", "Aktiv", "completed", "cancelled"]
_TEST_CARDS = ["4111111111111111", "5555555555554444", "4012888888881881"]


def apply_schema(conninfo: str) -> None:
    """Create the legacy schema (auth + public tables, demo rows) in the given database."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(SCHEMA_FILE.read_text(encoding="utf-8"))


def _phone(rng: random.Random) -> str:
    digits = f"{rng.randrange(10_000_000, 99_999_999)}"
    return rng.choice([f"+49 30 {digits}", f"030 {digits}", f"+49 (30) {digits[:4]}-{digits[4:]}"])


def _ts(rng: random.Random, base: datetime, days: int = 400) -> datetime:
    return base - timedelta(days=rng.randrange(days), minutes=rng.randrange(1440))


def _copy(
    conn: psycopg.Connection[Any], table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    n = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def populate(conninfo: str, *, scale: float = 1.0, seed: int = 1) -> dict[str, int]:
    """Fill a database that already has schema.sql; return the rows written per table."""
    rng = random.Random(seed)
    now = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
    n_owners = max(8, round(40 * scale))
    n_others = max(3, round(10 * scale))
    n_leads = max(10, round(100 * scale))
    n_consult = max(7, round(20 * scale))

    users: list[tuple[Any, ...]] = []
    profiles: list[tuple[Any, ...]] = []
    partners: list[tuple[Any, ...]] = []
    bprofiles: list[tuple[Any, ...]] = []
    contacts: list[tuple[Any, ...]] = []
    private: list[tuple[Any, ...]] = []
    kpis: list[tuple[Any, ...]] = []
    bookings: list[tuple[Any, ...]] = []
    gtokens: list[tuple[Any, ...]] = []
    ftokens: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    owners: list[uuid.UUID] = []

    for i in range(n_owners + n_others):
        uid = _uid(rng)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        created = _ts(rng, now)
        role = "admin" if i == n_owners else "user"
        meta = json.dumps({"name": f"{first} {last}", "language": "de"})
        users.append((uid, "authenticated", "authenticated", email, created, created, meta))
        if i != n_owners + 1:  # one account without a profiles row (trigger missed it)
            profiles.append((uid, f"{first} {last}", "de", role, created, created))
        if i >= n_owners:
            continue
        owners.append(uid)
        kind, word = rng.choice(_KIND), rng.choice(_WORD)
        name = f"{kind} {word} {i}"
        street, number = rng.choice(_STREET), str(rng.randrange(1, 120))
        postal, city = rng.choice(_CITY)
        phone = _phone(rng)
        website = f"https://{word.lower()}{i}.example.org"
        has_partner = i % 10 != 9  # every tenth owner has only a business_profiles row
        has_profile = i % 7 != 6  # every seventh only a business_partners row
        if has_partner:
            pid = _uid(rng)
            status = "cancelled" if i % 11 == 5 else rng.choice(_PARTNER_STATUS)
            partners.append(
                (
                    pid,
                    uid,
                    f"{name} GmbH" if i % 2 else name.upper(),
                    email,
                    phone,
                    f"{street} {number}, {postal} {city}",
                    website,
                    status,
                    "{" + ",".join(f"gcid:{rng.randrange(1000, 9999)}" for _ in range(2)) + "}",
                    rng.choice([None, 0, 40, 80]),
                    rng.random() < 0.5,
                    rng.random() < 0.4,
                    created,
                    created + timedelta(days=3),
                )
            )
            if rng.random() < 0.7:
                contacts.append(
                    (
                        _uid(rng),
                        pid,
                        name,
                        street,
                        number,
                        postal,
                        city,
                        "DE",
                        f"info{i}@example.org",
                        phone,
                        website,
                    )
                )
            private.append((_uid(rng), pid, first, last, email, _phone(rng)))
            kpis.append((_uid(rng), pid, rng.randrange(80, 900) * 1000, rng.randrange(10, 120)))
            for b in range(rng.randrange(0, 3)):
                booked = _ts(rng, now, 200)
                text_date = booked.strftime("%Y-%m-%d %H:%M:%S") if b or i % 13 else "demnächst"
                price = rng.choice(["149.00", "299", "29.9", "1499.50"])
                bookings.append(
                    (
                        _uid(rng),
                        pid,
                        "profilpflege-basis",
                        "Profilpflege Basis",
                        "recurring",
                        price,
                        rng.choice(_BOOKING_STATUS),
                        rng.choice(["paid", "pending", "failed"]),
                        f"pi_{rng.getrandbits(40):x}",
                        text_date,
                        booked.replace(tzinfo=None) if b else None,
                        booked,
                        booked,
                    )
                )
            events.append((_uid(rng), email, name, "Lead", _ts(rng, now, 90), uid, pid, "{}"))
        if has_profile:
            card = rng.choice(_TEST_CARDS) if i % 4 == 0 else None
            bprofiles.append(
                (
                    _uid(rng),
                    uid,
                    name if i % 3 else f"{name} ",
                    f"{first} {last}",
                    rng.choice(_LEGAL),
                    f"HRB {rng.randrange(10000, 99999)}",
                    rng.choice([f"DE{rng.randrange(100000000, 999999999)}", "de 123", None]),
                    street,
                    number,
                    postal,
                    city,
                    rng.choice(["DE", "Deutschland", None]),
                    phone.replace(" ", "") if i % 2 else phone,
                    f"kontakt{i}@example.org",
                    website if i % 5 else website.replace("https://", "http://www."),
                    f"ChIJ{rng.getrandbits(64):x}" if rng.random() < 0.7 else None,
                    json.dumps({"mo": "11:00-22:00", "di": "11:00-22:00"}),
                    rng.choice(["verified", "VERIFIED", "pending", "unverified", None]),
                    card,
                    "12/27" if card else None,
                    "123" if card else None,
                    f"DE89 3704 0044 0532 0130 {i:02d}" if card else None,
                    rng.choice(["free", "basic", "premium", "Premium"]),
                    rng.random() < 0.5,
                    rng.choice(["2025-05-01 10:00", "n/a", None]),
                    created,
                    created + timedelta(days=1),
                )
            )
        if rng.random() < 0.6:
            st = rng.choice(["gmb", "ga4", "general", "ads"])
            gtokens.append(
                (
                    _uid(rng),
                    uid,
                    str(rng.getrandbits(60)),
                    email,
                    f"ya29.{rng.getrandbits(120):x}",
                    f"1//{rng.getrandbits(90):x}",
                    now + timedelta(hours=rng.randrange(-48, 48)),
                    "{business.manage,openid}",
                    st,
                    f"accounts/{rng.getrandbits(40)}" if st == "gmb" else None,
                    f"properties/{rng.getrandbits(30)}" if st == "ga4" else None,
                    str(rng.getrandbits(30)) if st == "ads" else None,
                    created,
                )
            )
        if rng.random() < 0.3:
            ftokens.append(
                (
                    _uid(rng),
                    uid,
                    str(rng.getrandbits(50)),
                    f"EAAB{rng.getrandbits(150):x}",
                    email,
                    created,
                )
            )

    # An orphan: a business profile whose auth user no longer exists (no foreign key).
    bprofiles.append(
        (
            _uid(rng),
            _uid(rng),
            "Verwaist Bistro",
            "Niemand Fiktiv",
            None,
            None,
            None,
            "Beispielstr.",
            "1",
            "10115",
            "Berlin",
            "DE",
            "+49 30 12345678",
            "verwaist@example.org",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "free",
            False,
            None,
            now,
            now,
        )
    )
    # A partner without an owner account.
    partners.append(
        (
            _uid(rng),
            None,
            "Ohne Besitzer Imbiss",
            None,
            "+49 30 87654321",
            "Musterweg 3, 20095 Hamburg",
            None,
            "pending",
            None,
            None,
            False,
            False,
            now,
            now,
        )
    )

    leads: list[tuple[Any, ...]] = []
    actions: list[tuple[Any, ...]] = []
    for i in range(n_leads):
        lid = _uid(rng)
        created = _ts(rng, now, 300)
        status = rng.choice(_VC_STATUS)
        email = f"vc{i}@example.com" if i % 17 else "keine-angabe"
        user_id = rng.choice(owners) if i % 9 == 0 else None
        if i % 23 == 22:
            user_id = _uid(rng)  # orphan: points at no auth user
        score = rng.randrange(0, 101) if status.strip().lower() == "completed" else None
        postal, city = rng.choice(_CITY)
        leads.append(
            (
                lid,
                f"{rng.choice(_KIND)} {rng.choice(_WORD)} VC{i}",
                email,
                _phone(rng) if i % 3 else None,
                f"{city}, Deutschland",
                postal,
                rng.choice(["Essen & Trinken", "Restaurant", "Cafe"]),
                status,
                rng.choice(["pending", "running", "completed", "failed"]),
                score,
                rng.random() < 0.6,
                rng.random() < 0.3,
                user_id,
                created,
                created,
            )
        )
        for _ in range(rng.randrange(0, 3)):
            actions.append(
                (
                    _uid(rng),
                    lid,
                    "profile",
                    "Öffnungszeiten ergänzen",
                    "Mehr Sichtbarkeit",
                    rng.random() < 0.2,
                    rng.random() < 0.5,
                    rng.choice(["google", "facebook"]),
                )
            )

    consults: list[tuple[Any, ...]] = []
    for i in range(n_consult):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        consults.append(
            (
                _uid(rng),
                f"{rng.choice(_KIND)} {rng.choice(_WORD)}",
                f"{first} {last}",
                f"anfrage{i}@example.com",
                _phone(rng),
                "Bitte um Rückruf wegen Google-Profil.",
                "{google-business-setup}",
                _CONSULT_STATUS[i % len(_CONSULT_STATUS)],
                _ts(rng, now, 100),
            )
        )

    counts: dict[str, int] = {}
    with psycopg.connect(conninfo) as conn:
        counts["auth.users"] = _copy(
            conn,
            "auth.users",
            ["id", "aud", "role", "email", "created_at", "updated_at", "raw_user_meta_data"],
            users,
        )
        counts["public.profiles"] = _copy(
            conn,
            "public.profiles",
            ["id", "name", "language", "role", "created_at", "updated_at"],
            profiles,
        )
        counts["public.business_partners"] = _copy(
            conn,
            "public.business_partners",
            [
                "id",
                "user_id",
                "company_name",
                "contact_email",
                "contact_phone",
                "address",
                "website",
                "status",
                "category_ids",
                "seating_capacity",
                "onboarding_completed",
                "profile_verified",
                "created_at",
                "updated_at",
            ],
            partners,
        )
        counts["public.business_profiles"] = _copy(
            conn,
            "public.business_profiles",
            [
                "id",
                "user_id",
                "company_name",
                "owner_name",
                "legal_entity",
                "commercial_register",
                "vat_id",
                "street",
                "house_number",
                "postal_code",
                "city",
                "country",
                "phone",
                "email",
                "website",
                "google_places_id",
                "business_hours",
                "gmb_verification_status",
                "card_number",
                "card_expiry",
                "card_cvc",
                "bank_account",
                "subscription",
                "onboarding_completed",
                "vc_last_run",
                "created_at",
                "updated_at",
            ],
            bprofiles,
        )
        counts["public.business_contact_data"] = _copy(
            conn,
            "public.business_contact_data",
            [
                "id",
                "customer_id",
                "company_name",
                "address_line1",
                "house_number",
                "postal_code",
                "city",
                "country",
                "contact_email",
                "contact_phone",
                "contact_website",
            ],
            contacts,
        )
        counts["public.partner_private_contacts"] = _copy(
            conn,
            "public.partner_private_contacts",
            ["id", "customer_id", "first_name", "last_name", "contact_email", "contact_phone"],
            private,
        )
        counts["public.partner_kpis"] = _copy(
            conn,
            "public.partner_kpis",
            ["id", "partner_id", "annual_revenue", "seating_capacity"],
            kpis,
        )
        counts["public.partner_bookings"] = _copy(
            conn,
            "public.partner_bookings",
            [
                "id",
                "partner_id",
                "service_slug",
                "service_name",
                "service_type",
                "price",
                "status",
                "payment_status",
                "payment_intent_id",
                "booking_date",
                "go_live_at",
                "created_at",
                "updated_at",
            ],
            bookings,
        )
        counts["public.google_oauth_tokens"] = _copy(
            conn,
            "public.google_oauth_tokens",
            [
                "id",
                "user_id",
                "google_user_id",
                "email",
                "access_token",
                "refresh_token",
                "expires_at",
                "scopes",
                "service_type",
                "gmb_account_id",
                "ga4_property_id",
                "ads_customer_id",
                "created_at",
            ],
            gtokens,
        )
        counts["public.facebook_oauth_tokens"] = _copy(
            conn,
            "public.facebook_oauth_tokens",
            ["id", "user_id", "facebook_user_id", "access_token", "email", "created_at"],
            ftokens,
        )
        counts["public.lead_events"] = _copy(
            conn,
            "public.lead_events",
            [
                "id",
                "email",
                "business_name",
                "event_type",
                "event_time",
                "user_id",
                "partner_id",
                "event_payload",
            ],
            events,
        )
        counts["public.visibility_check_leads"] = _copy(
            conn,
            "public.visibility_check_leads",
            [
                "id",
                "business_name",
                "email",
                "phone_number",
                "location",
                "postal_code",
                "main_category",
                "status",
                "analysis_status",
                "overall_score",
                "gdpr_consent",
                "marketing_consent",
                "user_id",
                "created_at",
                "updated_at",
            ],
            leads,
        )
        counts["public.visibility_check_actions"] = _copy(
            conn,
            "public.visibility_check_actions",
            [
                "id",
                "lead_id",
                "todo_type",
                "todo_text",
                "todo_why",
                "is_critical",
                "is_done",
                "platform",
            ],
            actions,
        )
        counts["public.consultation_requests"] = _copy(
            conn,
            "public.consultation_requests",
            [
                "id",
                "company_name",
                "contact_person",
                "email",
                "phone",
                "message",
                "service_interest",
                "status",
                "created_at",
            ],
            consults,
        )
        conn.commit()
    return counts
