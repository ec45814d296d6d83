"""Generated data for the MyHibachi-shaped legacy fixture (schema.sql in this folder).

Owns: applying schema.sql and filling it with fake, deliberately messy rows via COPY, and the
Fernet test keys the ciphertext is made with. Must not: touch any database but the one it is
given, use real personal data (names come from Faker, e-mails are example.com/example.org,
phones +1 555), or know anything about tenantry's canonical model.

Messiness on purpose (the tests in tests/integration/legacy check each one is present):
- Fernet ciphertext under the current key, under the rotated-out old key, plaintext written in
  the application's passthrough mode, '' for "none", and a few tokens under a key nobody
  supplies (must be quarantined) -- all in the same columns;
- the same customer twice in core.customers (spelling, e-mail case, phone format differ) and
  again in public.customers; the same event in core.bookings and public.bookings;
- free-text statuses in several spellings, payment methods the canonical model lacks;
- soft-deleted customers, bookings and leads; timestamps without time zone;
- a payment whose string booking_id points nowhere (no foreign key), a payment without booking,
  a converted lead without customer; the demo station the schema script inserts.
"""

from __future__ import annotations

import base64
import io
import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from faker import Faker

SCHEMA_SQL = Path(__file__).with_name("schema.sql")

# Test keys only. The engine gets them as `--fernet-key KEY` (repeatable) or
# TENANTRY_MIGRATE_FERNET_KEYS="KEY1,KEY2"; the old key is the application's
# FIELD_ENCRYPTION_KEY_OLD (key rotation), the unknown key is never handed over.
FERNET_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
FERNET_KEY_OLD = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()
FERNET_KEY_UNKNOWN = base64.urlsafe_b64encode(bytes(range(64, 96))).decode()
FERNET_KEYS = (FERNET_KEY, FERNET_KEY_OLD)

_T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
_STATIONS = [
    ("San Jose", "SJ", "My Hibachi San Jose", "San Jose", "CA", "95112"),
    ("Sacramento", "SAC", "My Hibachi Sacramento", "Sacramento", "CA", "95814"),
    ("Fremont", "FRE", "My Hibachi Fremont", "Fremont", "CA", "94538"),
]
_CATERING_STATUS = ["pending", "Completed", "completed ", "CONFIRMED", "paid", "failed", "refunded"]
_CATERING_METHODS = ["STRIPE", "VENMO", "ZELLE", "BANK_OF_AMERICA", "PLAID", "CASH"]
_STRIPE_STATUS = ["succeeded", "Succeeded", "pending", "canceled", "failed"]
_STRIPE_METHODS = ["card", "Card", "zelle", "venmo", "ach", "cash"]


def apply_schema(conninfo: str) -> None:
    """Create the legacy schema in an empty database."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())  # type: ignore[arg-type]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.current = Fernet(FERNET_KEY.encode())
        self.old = Fernet(FERNET_KEY_OLD.encode())
        self.unknown = Fernet(FERNET_KEY_UNKNOWN.encode())

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rnd.getrandbits(128), version=4)

    def when(self, days: int = 400) -> datetime:
        return _T0 + timedelta(minutes=self.rnd.randrange(days * 24 * 60))

    def phone(self) -> str:
        return f"+1555{self.rnd.randrange(1000000, 9999999)}"

    def email(self, first: str, last: str) -> str:
        domain = self.rnd.choice(["example.com", "example.org"])
        return f"{first}.{last}{self.rnd.randrange(100)}@{domain}".lower()

    def seal(self, value: str, *, mode: str | None = None) -> str:
        """How the application stores a PII field: mostly current-key tokens, some old-key
        tokens, some passthrough plaintext; '' stays ''."""
        if value == "":
            return ""
        mode = mode or self.rnd.choices(["current", "old", "plain"], [75, 15, 10])[0]
        if mode == "plain":
            return value
        f = {"current": self.current, "old": self.old, "unknown": self.unknown}[mode]
        return f.encrypt(value.encode()).decode()


def _copy(
    conn: psycopg.Connection[Any], table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _n(base: int, scale: float, floor: int) -> int:
    return max(floor, int(base * scale))


def populate(conninfo: str, *, scale: float = 1.0, seed: int = 1) -> dict[str, int]:
    """Fill a database that already has schema.sql; returns rows per table (incl. the demo)."""
    g = _Gen(seed)
    rnd = g.rnd
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        default_station = conn.execute(
            "SELECT id FROM identity.stations WHERE code = 'DEFAULT'"
        ).fetchone()
        assert default_station is not None, "schema.sql inserts the DEFAULT station"
        stations: list[uuid.UUID] = [default_station[0]]
        station_rows = []
        for name, code, display, city, state, postal in _STATIONS:
            sid = g.uuid()
            stations.append(sid)
            hours = '{"mon": "11:00-21:00", "sat": "10:00-22:00"}'
            station_rows.append(
                (
                    sid,
                    name,
                    code,
                    display,
                    f"{code.lower()}@example.com",
                    g.phone(),
                    g.fake.street_address(),
                    city,
                    state,
                    postal,
                    "US",
                    "America/Los_Angeles",
                    "active" if code != "FRE" else "inactive",
                    "{}",
                    hours,
                    50,
                    10,
                    24,
                    g.when(),
                )
            )
        counts: dict[str, int] = {}
        counts["identity.stations"] = 1 + _copy(
            conn,
            "identity.stations",
            [
                "id",
                "name",
                "code",
                "display_name",
                "email",
                "phone",
                "address",
                "city",
                "state",
                "postal_code",
                "country",
                "timezone",
                "status",
                "settings",
                "business_hours",
                "service_area_radius",
                "max_concurrent_bookings",
                "booking_lead_time_hours",
                "created_at",
            ],
            station_rows,
        )

        users = []
        for i in range(_n(5, scale, 3)):
            first, last = g.fake.first_name(), g.fake.last_name()
            users.append(
                (
                    g.uuid(),
                    g.email(first, last),
                    "$2b$12$" + "x" * 53,
                    first,
                    last,
                    g.phone(),
                    ["admin", "staff", "super_admin"][i % 3],
                    True,
                    True,
                    g.when(),
                )
            )
        counts["public.users"] = _copy(
            conn,
            "public.users",
            [
                "id",
                "email",
                "password_hash",
                "first_name",
                "last_name",
                "phone",
                "role",
                "is_active",
                "is_verified",
                "created_at",
            ],
            users,
        )
        counts["identity.station_users"] = _copy(
            conn,
            "identity.station_users",
            ["user_id", "station_id", "role", "is_primary_station"],
            [(u[0], stations[1 + i % 3], "station_admin", True) for i, u in enumerate(users)],
        )

        # ---- core.customers ------------------------------------------------------------
        people: list[dict[str, Any]] = []
        cust_rows = []
        for i in range(_n(400, scale, 30)):
            first, last = g.fake.first_name(), g.fake.last_name()
            p = {
                "id": g.uuid(),
                "first": first,
                "last": last,
                "email": g.email(first, last),
                "phone": g.phone(),
                "station": stations[i % len(stations)],
                "created": g.when(),
                "deleted": None,
            }
            people.append(p)
        # Quirk rows at fixed positions: plaintext, old key, unknown key, empty phone, deleted.
        modes: dict[int, dict[str, str]] = {
            0: {"email": "plain", "phone": "plain"},
            1: {"email": "old", "phone": "old"},
            2: {"email": "unknown", "phone": "current"},
            3: {"email": "current", "phone": "empty"},
        }
        for i in (4, 5):
            people[i]["deleted"] = people[i]["created"] + timedelta(days=30)
        for i, p in enumerate(people):
            m = modes.get(i, {})
            phone_mode = m.get("phone")
            phone = "" if phone_mode == "empty" else g.seal(p["phone"], mode=phone_mode)
            if m.get("phone") == "plain":
                phone = f"(555) {p['phone'][5:8]}-{p['phone'][8:]}"
            cust_rows.append(
                (
                    p["id"],
                    p["first"],
                    p["last"],
                    g.seal(p["email"], mode=m.get("email")),
                    phone,
                    rnd.random() < 0.6,
                    rnd.random() < 0.8,
                    None,
                    "America/Los_Angeles",
                    "{vip}" if rnd.random() < 0.1 else None,
                    "allergic to shellfish" if rnd.random() < 0.05 else None,
                    p["created"],
                    p["created"],
                    p["deleted"],
                    p["station"],
                )
            )
        # The same customer twice: different spelling, e-mail case and phone format.
        dup = people[6]
        dup_id = g.uuid()
        cust_rows.append(
            (
                dup_id,
                dup["first"].upper() + " ",
                dup["last"],
                g.seal(dup["email"].upper()),
                g.seal(dup["phone"].replace("+1", "")),
                True,
                True,
                None,
                "America/Los_Angeles",
                None,
                None,
                dup["created"] + timedelta(days=90),
                dup["created"] + timedelta(days=90),
                None,
                dup["station"],
            )
        )
        counts["core.customers"] = _copy(
            conn,
            "core.customers",
            [
                "id",
                "first_name",
                "last_name",
                "email_encrypted",
                "phone_encrypted",
                "consent_sms",
                "consent_email",
                "consent_updated_at",
                "timezone",
                "tags",
                "notes",
                "created_at",
                "updated_at",
                "deleted_at",
                "station_id",
            ],
            cust_rows,
        )

        # ---- core.bookings -------------------------------------------------------------
        statuses = [
            "new",
            "deposit_pending",
            "confirmed",
            "completed",
            "completed",
            "cancelled",
            "no_show",
            "cancellation_requested",
        ]
        bookings: list[dict[str, Any]] = []
        book_rows = []
        used_slots: set[tuple[date, time]] = set()
        for i in range(_n(600, scale, 40)):
            p = people[rnd.randrange(len(people))]
            while True:
                d = (_T0 + timedelta(days=rnd.randrange(500))).date()
                s = time(rnd.choice([12, 15, 17, 18, 19]), rnd.choice([0, 30]))
                if (d, s) not in used_slots:
                    used_slots.add((d, s))
                    break
            adults, kids = rnd.randint(10, 40), rnd.randint(0, 8)
            total = adults * 5500 + kids * 3000
            deposit = 10000
            st = statuses[i % len(statuses)]
            deleted = p["created"] + timedelta(days=5) if i % 37 == 7 else None
            b = {
                "id": g.uuid(),
                "customer": p,
                "date": d,
                "slot": s,
                "party": adults + kids,
                "station": p["station"],
            }
            bookings.append(b)
            addr = f"{g.fake.street_address()}, {g.fake.city()}, CA {g.fake.zipcode()}"
            created = p["created"] + timedelta(hours=rnd.randrange(1, 200))
            confirmed = (created + timedelta(days=1)).replace(tzinfo=None)
            book_rows.append(
                (
                    b["id"],
                    p["id"],
                    d,
                    s,
                    g.seal(addr),
                    "bay_area",
                    st,
                    adults,
                    kids,
                    deposit,
                    total,
                    None,
                    "no onions please" if i % 9 == 0 else None,
                    None,
                    rnd.choice(["website", "phone", "instagram", "yelp"]),
                    None,
                    created,
                    created,
                    deleted,
                    p["station"],
                    1,
                    confirmed if st in ("confirmed", "completed") else None,
                    confirmed if st in ("confirmed", "completed") else None,
                    False,
                    rnd.random() < 0.5,
                )
            )
        counts["core.bookings"] = _copy(
            conn,
            "core.bookings",
            [
                "id",
                "customer_id",
                "date",
                "slot",
                "address_encrypted",
                "zone",
                "status",
                "party_adults",
                "party_kids",
                "deposit_due_cents",
                "total_due_cents",
                "menu_items",
                "special_requests",
                "notes",
                "source",
                "metadata",
                "created_at",
                "updated_at",
                "deleted_at",
                "station_id",
                "version",
                "deposit_confirmed_at",
                "internal_deadline",
                "hold_on_request",
                "sms_consent",
            ],
            book_rows,
        )

        # ---- public.catering_payments (payments of core bookings, dollars) -------------
        pay_rows = []
        for i, b in enumerate(bookings):
            for k in range(1 if i % 3 else 2):
                st = _CATERING_STATUS[(i + k) % len(_CATERING_STATUS)]
                method = _CATERING_METHODS[(i + k) % len(_CATERING_METHODS)]
                created = (_T0 + timedelta(days=rnd.randrange(500))).replace(tzinfo=None)
                pay_rows.append(
                    (
                        created,
                        created,
                        b["id"],
                        None,
                        Decimal(100) if k == 0 else Decimal(b["party"] * 55) - 100,
                        method,
                        st,
                        f"txn-{seed}-{i}-{k}",
                        g.fake.name(),
                        None,
                        None,
                        None,
                        "deposit" if k == 0 else "balance",
                        created,
                        created,
                        True,
                        None,
                        None,
                    )
                )
        pay_rows.append(
            (
                datetime(2025, 3, 1, 12, 0),
                datetime(2025, 3, 1, 12, 0),
                bookings[0]["id"],
                None,
                Decimal("250.00"),
                "CHECK",
                "completed",
                f"txn-{seed}-check",
                None,
                None,
                None,
                None,
                "balance",
                None,
                None,
                False,
                "paper check",
                None,
            )
        )
        counts["public.catering_payments"] = _copy(
            conn,
            "public.catering_payments",
            [
                "created_at",
                "updated_at",
                "booking_id",
                "notification_id",
                "amount",
                "payment_method",
                "status",
                "transaction_id",
                "sender_name",
                "sender_email",
                "sender_phone",
                "sender_username",
                "payment_type",
                "processed_at",
                "confirmed_at",
                "confirmation_sent",
                "payment_note",
                "admin_note",
            ],
            pay_rows,
        )

        # ---- public generation: customers, bookings, payments --------------------------
        pc_rows = []
        public_people: list[tuple[str, dict[str, Any]]] = []
        # The same people as in core.customers: the customers of the first core bookings.
        overlap: list[dict[str, Any]] = []
        for b in bookings:
            if len(overlap) >= _n(40, scale, 3):
                break
            if all(b["customer"] is not o for o in overlap):
                overlap.append(b["customer"])
        for i in range(_n(150, scale, 12)):
            if i < len(overlap):
                p = overlap[i]
                name = f"{p['first']} {p['last']}" if i % 2 else f"{p['first'][0]}. {p['last']}"
                email, phone = p["email"], p["phone"]
            else:
                first, last = g.fake.first_name(), g.fake.last_name()
                p = {"first": first, "last": last}
                name, email, phone = f"{first} {last}", g.email(first, last), g.phone()
            cid = f"cus_{seed}_{i:05d}"
            public_people.append((cid, p))
            pc_rows.append(
                (
                    cid,
                    f"user_{seed}_{i:05d}",
                    email,
                    f"cus_stripe_{seed}_{i:05d}",
                    name,
                    phone if i % 3 else f"555-{phone[5:8]}-{phone[8:]}",
                    "zelle",
                    Decimal(rnd.randrange(0, 500000)) / 100,
                    rnd.randrange(0, 6),
                    Decimal("0.00"),
                    "silver",
                    g.when(),
                    None,
                )
            )
        counts["public.customers"] = _copy(
            conn,
            "public.customers",
            [
                "id",
                "user_id",
                "email",
                "stripe_customer_id",
                "name",
                "phone",
                "preferred_payment_method",
                "total_spent",
                "total_bookings",
                "zelle_savings",
                "loyalty_tier",
                "created_at",
                "updated_at",
            ],
            pc_rows,
        )

        pb_rows = []
        pub_status = ["pending", "confirmed", "seated", "completed", "cancelled", "no_show"]
        for i in range(_n(200, scale, 12)):
            cid, p = public_people[i % len(public_people)]
            if i < 3 and "id" in p:
                # The same event as a core booking of this person (duplicate generation).
                core_b = next((b for b in bookings if b["customer"] is p), None)
            else:
                core_b = None
            if core_b is not None:
                start = datetime.combine(core_b["date"], core_b["slot"])
                party = core_b["party"]
            else:
                start = datetime.combine(
                    (_T0 + timedelta(days=rnd.randrange(500))).date(), time(18, 0)
                ) + timedelta(minutes=i)
                party = rnd.randint(10, 40)
            st = pub_status[i % len(pub_status)]
            created = start - timedelta(days=rnd.randint(5, 60))
            pb_rows.append(
                (
                    i + 1,
                    cid,
                    start,
                    party,
                    st,
                    1,
                    None,
                    None,
                    False,
                    None,
                    None,
                    None,
                    created + timedelta(days=1)
                    if st in ("confirmed", "seated", "completed")
                    else None,
                    start + timedelta(hours=3) if st == "completed" else None,
                    created + timedelta(days=2) if st == "cancelled" else None,
                    "change of plans" if st == "cancelled" else None,
                    created,
                    created,
                )
            )
        counts["public.bookings"] = _copy(
            conn,
            "public.bookings",
            [
                "id",
                "customer_id",
                "booking_datetime",
                "party_size",
                "status",
                "version",
                "contact_phone",
                "contact_email",
                "sms_consent",
                "sms_consent_timestamp",
                "special_requests",
                "internal_notes",
                "confirmed_at",
                "completed_at",
                "cancelled_at",
                "cancellation_reason",
                "created_at",
                "updated_at",
            ],
            pb_rows,
        )
        conn.execute(
            "SELECT setval('public.bookings_id_seq', (SELECT max(id) FROM public.bookings))"
        )

        pp_rows = []
        stripe_by_cus = {r[0]: r[3] for r in pc_rows}
        for i, r in enumerate(pb_rows):
            pp_rows.append(
                (
                    f"pay_{seed}_{i:05d}",
                    f"user_{seed}",
                    str(r[0]),
                    f"pi_{seed}_{i:05d}",
                    stripe_by_cus[r[1]],
                    Decimal(r[3] * 55) + Decimal("0.50"),
                    "usd",
                    _STRIPE_STATUS[i % len(_STRIPE_STATUS)],
                    _STRIPE_METHODS[i % len(_STRIPE_METHODS)],
                    "deposit" if i % 2 else "full",
                    None,
                    '{"source": "checkout"}',
                    None,
                    None,
                    r[16].replace(tzinfo=UTC),
                    None,
                )
            )
        # No foreign key on booking_id: an orphan and one without booking.
        pp_rows.append(
            (
                f"pay_{seed}_orphan",
                f"user_{seed}",
                "999999",
                None,
                None,
                Decimal("100.00"),
                "usd",
                "succeeded",
                "card",
                "deposit",
                None,
                None,
                None,
                None,
                _T0,
                None,
            )
        )
        pp_rows.append(
            (
                f"pay_{seed}_nobooking",
                f"user_{seed}",
                None,
                None,
                None,
                Decimal("45.00"),
                "usd",
                "succeeded",
                "card",
                "full",
                None,
                None,
                None,
                None,
                _T0,
                None,
            )
        )
        counts["public.payments"] = _copy(
            conn,
            "public.payments",
            [
                "id",
                "user_id",
                "booking_id",
                "stripe_payment_intent_id",
                "stripe_customer_id",
                "amount",
                "currency",
                "status",
                "method",
                "payment_type",
                "description",
                "metadata_json",
                "stripe_fee",
                "net_amount",
                "created_at",
                "updated_at",
            ],
            pp_rows,
        )

        # ---- threads and messages ------------------------------------------------------
        th_rows, msg_rows = [], []
        channels = ["web_chat", "sms", "email", "phone", "admin"]
        tstatus = ["active", "waiting", "resolved", "escalated"]
        for i in range(_n(250, scale, 15)):
            p = people[rnd.randrange(len(people))]
            tid, start = g.uuid(), g.when()
            n = rnd.randint(1, 10)
            th_rows.append(
                (
                    tid,
                    p["id"],
                    channels[i % 5],
                    None,
                    tstatus[i % 4],
                    None,
                    i % 2 == 0,
                    start + timedelta(minutes=n * 3),
                    start,
                    start,
                    None,
                    p["station"],
                )
            )
            for k in range(n):
                sender = "customer" if k % 2 == 0 else rnd.choice(["agent", "ai", "system"])
                msg_rows.append(
                    (
                        g.uuid(),
                        tid,
                        "inbound" if sender == "customer" else "outbound",
                        g.fake.sentence(nb_words=10),
                        sender,
                        None,
                        None,
                        start + timedelta(minutes=k * 3),
                    )
                )
        counts["core.message_threads"] = _copy(
            conn,
            "core.message_threads",
            [
                "id",
                "customer_id",
                "channel",
                "external_thread_id",
                "status",
                "assigned_agent_id",
                "ai_mode",
                "last_message_at",
                "created_at",
                "updated_at",
                "deleted_at",
                "station_id",
            ],
            th_rows,
        )
        counts["core.messages"] = _copy(
            conn,
            "core.messages",
            [
                "id",
                "thread_id",
                "direction",
                "content",
                "sender_type",
                "sender_id",
                "metadata",
                "created_at",
            ],
            msg_rows,
        )

        # ---- leads -------------------------------------------------------------------------
        lead_rows, contact_rows, ctx_rows = [], [], []
        sources = [
            "web_quote",
            "chat",
            "instagram",
            "facebook",
            "google",
            "yelp",
            "sms",
            "phone",
            "referral",
            "event",
        ]
        lstatus = ["new", "working", "qualified", "disqualified", "converted", "nurturing"]
        for i in range(_n(300, scale, 20)):
            lid, created = g.uuid(), g.when()
            st = lstatus[i % len(lstatus)]
            cust = people[i % len(people)]["id"] if st == "converted" and i != 4 else None
            lead_rows.append(
                (
                    lid,
                    sources[i % len(sources)],
                    st,
                    ["hot", "warm", "cold"][i % 3],
                    cust,
                    Decimal(rnd.randrange(0, 10000)) / 100,
                    None,
                    created + timedelta(days=1) if st != "new" else None,
                    None,
                    created + timedelta(days=9) if st == "converted" else None,
                    "went with another caterer" if st == "disqualified" and i % 2 else None,
                    "google" if i % 4 == 0 else None,
                    "cpc" if i % 4 == 0 else None,
                    None,
                    created,
                    created,
                    created + timedelta(days=3) if i % 41 == 5 else None,
                )
            )
            first, last = g.fake.first_name(), g.fake.last_name()
            contact_rows.append((lid, "email", g.email(first, last), i % 2 == 0, created))
            if i % 2:
                contact_rows.append((lid, "sms", g.phone(), False, created))
            if i % 3 == 0:
                ctx_rows.append(
                    (
                        lid,
                        rnd.randint(10, 30),
                        rnd.randint(0, 5),
                        rnd.randrange(50000, 300000),
                        None,
                        "backyard party",
                    )
                )
        counts["lead.leads"] = _copy(
            conn,
            "lead.leads",
            [
                "id",
                "source",
                "status",
                "quality",
                "customer_id",
                "score",
                "assigned_to",
                "last_contact_date",
                "follow_up_date",
                "conversion_date",
                "lost_reason",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "created_at",
                "updated_at",
                "deleted_at",
            ],
            lead_rows,
        )
        counts["lead.lead_contacts"] = _copy(
            conn,
            "lead.lead_contacts",
            ["lead_id", "channel", "handle_or_address", "verified", "created_at"],
            contact_rows,
        )
        counts["lead.lead_context"] = _copy(
            conn,
            "lead.lead_context",
            [
                "lead_id",
                "party_size_adults",
                "party_size_kids",
                "estimated_budget_cents",
                "zip_code",
                "notes",
            ],
            ctx_rows,
        )

        # ---- feedback.customer_reviews -------------------------------------------------
        rev_rows = []
        ratings = ["great", "good", "okay", "could_be_better"]
        rstatus = ["submitted", "submitted", "pending", "escalated", "resolved", "archived"]
        for i, b in enumerate(bookings[: _n(200, scale, 12)]):
            r = ratings[i % 4]
            st = rstatus[i % len(rstatus)]
            created = g.when()
            complaint = "the chef arrived late" if r in ("okay", "could_be_better") else None
            rev_rows.append(
                (
                    b["station"],
                    b["id"],
                    b["customer"]["id"],
                    r,
                    st,
                    complaint,
                    "more sauce" if i % 5 == 0 else None,
                    i % 3 == 0,
                    i % 2 == 0,
                    False,
                    created if st != "pending" else None,
                    "coupon sent" if st == "resolved" else None,
                    created + timedelta(days=2) if st == "resolved" else None,
                    created,
                )
            )
        counts["feedback.customer_reviews"] = _copy(
            conn,
            "feedback.customer_reviews",
            [
                "station_id",
                "booking_id",
                "customer_id",
                "rating",
                "status",
                "complaint_text",
                "improvement_suggestions",
                "left_yelp_review",
                "left_google_review",
                "coupon_issued",
                "submitted_at",
                "resolution_notes",
                "resolved_at",
                "created_at",
            ],
            rev_rows,
        )
        conn.commit()
    return counts


def dump_counts(counts: dict[str, int]) -> str:
    """One line per table, for debugging a generator run."""
    out = io.StringIO()
    for table, n in sorted(counts.items()):
        out.write(f"{table}: {n}\n")
    return out.getvalue()
