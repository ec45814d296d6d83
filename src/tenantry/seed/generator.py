"""Row generation: one chunk of tenants at a time, as COPY text lines per table.

Deterministic: a chunk's rows depend only on (seed, tenant index, anchor time), so the same
command produces the same dataset, ids included (UUIDv7 built from the row's creation time and
a seeded random part). Pure CPU work, no I/O, so chunks can be generated in a worker process
while the loader copies the previous one.

Distributions follow the seeds: lead sources of seed 004 weighted per vertical, personas of
seed 001 on visibility-check leads, German cities, addresses, plates and TÜV dates.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tenantry.domain.contact import normalise_email
from tenantry.ids import uuid7_hex
from tenantry.privacy.master import MasterKeyProvider
from tenantry.seed.pools import CITIES, CUISINES, EMAIL_DOMAINS, SERVICES, VEHICLES, Pools
from tenantry.seed.sealing import PlatformSeedKeys, SeedKeys

__all__ = ["COLUMNS", "SCALES", "ChunkSpec", "Scale", "TenantSpec", "generate_chunk"]

N = "\\N"
T = TypeVar("T")
DAY = 86_400


@dataclass(frozen=True)
class Scale:
    name: str
    locations: tuple[int, int]
    customers: int
    leads: int
    bookings: int
    chunk_tenants: int
    jitter: bool = True  # vary tenant sizes (0.4x to 1.6x); off for exact benchmark sizes


SCALES = {
    "small": Scale("small", (1, 3), 40, 60, 40, 10),
    "medium": Scale("medium", (1, 4), 200, 300, 150, 25),
    "large": Scale("large", (1, 5), 150, 520, 120, 50),
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "identity.tenants": (
        "id",
        "slug",
        "legal_name",
        "display_name",
        "legal_form",
        "vertical",
        "country",
        "vat_id",
        "plan",
        "status",
        "created_at",
        "updated_at",
    ),
    "identity.users": ("id", "email", "email_bidx", "display_name", "created_at", "updated_at"),
    "identity.locations": (
        "tenant_id",
        "id",
        "name",
        "slug",
        "vertical",
        "street",
        "house_number",
        "postal_code",
        "city",
        "country",
        "latitude",
        "longitude",
        "cuisine",
        "price_range",
        "capacity",
        "onboarding_status",
        "verification_status",
        "google_place_id",
        "created_at",
        "updated_at",
    ),
    "identity.memberships": ("tenant_id", "id", "user_id", "role", "created_at", "updated_at"),
    "commerce.services": (
        "tenant_id",
        "id",
        "location_id",
        "kind",
        "name",
        "category",
        "price_cents",
        "duration_minutes",
        "created_at",
        "updated_at",
    ),
    "privacy.tenant_keys": (
        "tenant_id",
        "purpose",
        "version",
        "status",
        "wrapped_key",
        "master_key_id",
        "created_at",
        "updated_at",
    ),
    "privacy.subjects": (
        "tenant_id",
        "id",
        "email_bidx",
        "phone_bidx",
        "phone_last4_bidx",
        "pseudonym",
        "created_at",
        "updated_at",
    ),
    "privacy.subject_keys": (
        "tenant_id",
        "subject_id",
        "version",
        "wrapped_key",
        "wrapping_version",
        "created_at",
        "updated_at",
    ),
    "crm.customers": (
        "tenant_id",
        "id",
        "subject_id",
        "home_location_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "preferred_channel",
        "source",
        "first_seen_at",
        "created_at",
        "updated_at",
    ),
    "crm.vehicles": (
        "tenant_id",
        "id",
        "subject_id",
        "customer_id",
        "make",
        "model",
        "model_year",
        "fuel_type",
        "license_plate",
        "license_plate_bidx",
        "mileage_km",
        "tuv_due_on",
        "last_service_on",
        "created_at",
        "updated_at",
    ),
    "crm.leads": (
        "tenant_id",
        "id",
        "subject_id",
        "location_id",
        "customer_id",
        "source",
        "status",
        "score",
        "persona",
        "first_name",
        "last_name",
        "email",
        "phone",
        "interest",
        "estimated_value_cents",
        "lost_reason",
        "contacted_at",
        "qualified_at",
        "converted_at",
        "lost_at",
        "created_at",
        "updated_at",
    ),
    "commerce.bookings": (
        "tenant_id",
        "id",
        "location_id",
        "customer_id",
        "lead_id",
        "vehicle_id",
        "kind",
        "status",
        "starts_at",
        "ends_at",
        "guest_count",
        "total_cents",
        "deposit_cents",
        "confirmed_at",
        "fulfilled_at",
        "cancelled_at",
        "cancellation_reason",
        "created_at",
        "updated_at",
    ),
    "commerce.booking_items": (
        "tenant_id",
        "id",
        "booking_id",
        "service_id",
        "description",
        "quantity",
        "unit_price_cents",
        "created_at",
        "updated_at",
    ),
    "commerce.payments": (
        "tenant_id",
        "id",
        "booking_id",
        "customer_id",
        "kind",
        "method",
        "status",
        "amount_cents",
        "provider",
        "provider_ref",
        "paid_at",
        "created_at",
        "updated_at",
    ),
}

LEAD_SOURCES = {
    "restaurant": (
        ("google", 30),
        ("instagram", 18),
        ("facebook", 10),
        ("web_quote", 12),
        ("visibility_check", 12),
        ("referral", 8),
        ("phone", 6),
        ("yelp", 4),
    ),
    "workshop": (
        ("google", 32),
        ("phone", 20),
        ("web_quote", 18),
        ("referral", 14),
        ("facebook", 6),
        ("walk_in", 6),
        ("sms", 4),
    ),
    "caterer": (
        ("web_quote", 22),
        ("chat", 12),
        ("instagram", 14),
        ("facebook", 8),
        ("google", 12),
        ("yelp", 4),
        ("sms", 6),
        ("phone", 8),
        ("referral", 8),
        ("event", 4),
        ("stripe", 2),
    ),
}
PERSONAS = ("solo-sarah", "bewahrer-ben", "wachstums-walter", "ketten-katrin")
LOST_REASONS = ("kein Budget", "Termin passt nicht", "Wettbewerber gewählt", "keine Antwort")
LEGAL_FORMS = ("gmbh", "gmbh", "gmbh", "ug", "ek", "gbr", "kg", "gmbh_co_kg")
# The suffix of the legal name that goes with each legal form.
LEGAL_SUFFIX = {
    "gmbh": "GmbH",
    "ug": "UG (haftungsbeschränkt)",
    "ek": "e.K.",
    "gbr": "GbR",
    "kg": "KG",
    "gmbh_co_kg": "GmbH & Co. KG",
}
PLANS = ("free", "starter", "starter", "professional", "professional", "enterprise")
BOOKING_KIND = {"restaurant": "reservation", "workshop": "appointment", "caterer": "catering_event"}


@dataclass(frozen=True)
class TenantSpec:
    """A tenant to generate; the demo passes fixed names, `seed` derives them."""

    index: int
    vertical: str
    name: str
    slug: str
    locations: int | None = None


@dataclass(frozen=True)
class ChunkSpec:
    seed: int
    scale: Scale
    anchor_s: int
    pools: Pools
    tenants: tuple[TenantSpec, ...]
    master: MasterKeyProvider
    platform: PlatformSeedKeys
    out: dict[str, list[str]] = field(default_factory=dict)


class _Rng(random.Random):
    """`random.Random` with cheaper `choice` and `randint` (one float draw each).

    Slightly less uniform than the standard library's rejection sampling, which does not
    matter for test data and makes generation markedly faster.
    """

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


_DAYS: dict[int, str] = {}
_CLOCK = [f"{h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)]


def _date(s: float) -> str:
    day = int(s) // DAY
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
    return text


def _ts(s: float) -> str:
    """`YYYY-MM-DD HH:MM:SS+00` for epoch seconds, from cached day and clock strings."""
    i = int(s)
    return f"{_date(i)} {_CLOCK[i % DAY]}"


_CUMULATIVE: dict[int, tuple[list[str], list[int]]] = {}


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    cached = _CUMULATIVE.get(id(table))
    if cached is None:
        cum, total = [], 0
        for _value, weight in table:
            total += weight
            cum.append(total)
        cached = _CUMULATIVE[id(table)] = ([v for v, _ in table], cum)
    values, cum = cached
    return values[bisect.bisect_right(cum, rng.random() * cum[-1])]


class _Chunk:
    """Generates the rows of the tenants in one chunk."""

    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec
        self.p = spec.pools
        self.now = spec.anchor_s
        self.rows: dict[str, list[str]] = {t: [] for t in COLUMNS}
        self.keys = SeedKeys("00000000-0000-0000-0000-000000000000", spec.master)
        self.subject_rng = random.Random(0)
        self.customer_subjects: dict[str, tuple[str, bytes]] = {}

    def emit(self, table: str, *values: object) -> None:
        self.rows[table].append(
            "\t".join([N if v is None else v if type(v) is str else str(v) for v in values])
        )

    def uid(self, rng: random.Random, at_s: float) -> str:
        return uuid7_hex(int(at_s * 1000), rng)

    def person(self, rng: random.Random, serial: int) -> tuple[str, str, str, str]:
        first, last = rng.choice(self.p.first_names), rng.choice(self.p.last_names)
        local = f"{first}.{last}".lower().replace(" ", "-")
        # Stored and indexed in this one spelling (see `subject`).
        email = normalise_email(f"{local}{serial}@{rng.choice(EMAIL_DOMAINS)}")
        phone = f"+49 {rng.randint(151, 179)} {rng.randint(1000000, 9999999)}"
        return first, last, email, phone

    def subject(self, tid: str, at: float, email: str | None, phone: str) -> tuple[str, bytes]:
        """A data subject with its wrapped key and blind indexes; returns (id, data key)."""
        sid = self.uid(self.subject_rng, at)
        e164 = phone.replace(" ", "")  # generated numbers are "+49 NNN NNNNNNN"
        self.emit(
            "privacy.subjects",
            tid,
            sid,
            self.keys.index("email", email) if email else None,  # normalised by `person`
            self.keys.index("phone", e164),
            self.keys.index("phone_last4", e164[-4:]),
            self.keys.pseudonym(sid),
            _ts(at),
            _ts(at),
        )
        key, wrapped = self.keys.new_subject_key(sid)
        self.emit("privacy.subject_keys", tid, sid, 1, wrapped, 1, _ts(at), _ts(at))
        return sid, key

    def tenant(self, t: TenantSpec) -> None:
        rng = _Rng(self.spec.seed * 1_000_003 + t.index)
        scale = self.spec.scale
        size = rng.uniform(0.4, 1.6) if scale.jitter else 1.0
        created = self.now - rng.randint(400, 1500) * DAY
        tid = self.uid(rng, created)
        self.keys = SeedKeys(tid, self.spec.master)
        self.subject_rng = random.Random(self.spec.seed * 7_000_003 + t.index)
        self.customer_subjects = {}
        # One draw used to pick the name's suffix apart from the legal form (a "KG" that was a
        # GmbH); it is still made, so every later draw, and the data, stay as they were.
        rng.random()
        legal_form = rng.choice(LEGAL_FORMS)
        self.emit(
            "identity.tenants",
            tid,
            t.slug,
            f"{t.name} {LEGAL_SUFFIX[legal_form]}",
            t.name,
            legal_form,
            t.vertical,
            "DE",
            f"DE{rng.randint(100000000, 999999999)}",
            rng.choice(PLANS),
            "active",
            _ts(created),
            _ts(created),
        )
        uid = self.uid(rng, created)
        owner = normalise_email(f"owner.{t.slug}@example.com")
        self.emit(
            "identity.users",
            uid,
            self.spec.platform.seal("email", uid, owner),
            self.spec.platform.email_index(owner),
            self.spec.platform.seal("display_name", uid, f"Inhaber {t.name}"),
            _ts(created),
            _ts(created),
        )
        self.emit(
            "identity.memberships",
            tid,
            self.uid(rng, created),
            uid,
            "owner",
            _ts(created),
            _ts(created),
        )

        for purpose, wrapped, master_id in self.keys.tenant_key_rows():
            self.emit(
                "privacy.tenant_keys",
                tid,
                purpose,
                1,
                "active",
                wrapped,
                master_id,
                _ts(created),
                _ts(created),
            )
        n_loc = t.locations or rng.randint(*scale.locations)
        locations = [self.location(rng, t, tid, i, created) for i in range(n_loc)]
        services = self.services(rng, t.vertical, tid, created)
        customers = self.customers(rng, t.vertical, tid, locations, int(scale.customers * size))
        vehicles = self.vehicles(rng, tid, customers) if t.vertical == "workshop" else {}
        leads = self.leads(rng, t.vertical, tid, locations, customers, int(scale.leads * size))
        self.bookings(
            rng,
            t.vertical,
            tid,
            locations,
            customers,
            vehicles,
            services,
            leads,
            int(scale.bookings * size),
        )

    def location(self, rng: random.Random, t: TenantSpec, tid: str, i: int, created: int) -> str:
        city, _plate, postal, lat, lon = rng.choice(CITIES)
        lid = self.uid(rng, created + i)
        name = t.name if i == 0 else f"{t.name} {city}"
        self.emit(
            "identity.locations",
            tid,
            lid,
            name,
            f"loc-{i + 1}",
            t.vertical,
            rng.choice(self.p.streets),
            str(rng.randint(1, 180)),
            f"{postal}{rng.randint(100, 999)}",
            city,
            "DE",
            f"{lat + rng.uniform(-0.08, 0.08):.6f}",
            f"{lon + rng.uniform(-0.12, 0.12):.6f}",
            rng.choice(CUISINES) if t.vertical == "restaurant" else None,
            rng.randint(1, 4) if t.vertical == "restaurant" else None,
            rng.randint(20, 160) if t.vertical != "workshop" else None,
            rng.choice(("completed", "completed", "in_progress", "not_started")),
            rng.choice(("verified", "verified", "pending", "unverified")),
            f"ChIJ{rng.getrandbits(96):024x}",
            _ts(created),
            _ts(created),
        )
        return lid

    def services(
        self, rng: random.Random, vertical: str, tid: str, created: int
    ) -> list[tuple[str, str, int]]:
        out = []
        for kind, name, category, price, minutes in SERVICES[vertical]:
            sid = self.uid(rng, created)
            self.emit(
                "commerce.services",
                tid,
                sid,
                None,
                kind,
                name,
                category,
                price,
                minutes,
                _ts(created),
                _ts(created),
            )
            out.append((sid, name, price))
        return out

    def customers(
        self, rng: random.Random, vertical: str, tid: str, locations: list[str], n: int
    ) -> list[tuple[str, str]]:
        out = []
        for i in range(max(n, 1)):
            at = self.now - 730 * DAY * rng.random() ** 0.8
            cid = self.uid(rng, at)
            first, last, email, phone = self.person(rng, i)
            city, _plate, postal, _lat, _lon = rng.choice(CITIES)
            home = rng.choice(locations)
            sid, key = self.customer_subjects[cid] = self.subject(tid, at, email, phone)

            def sealed(column: str, value: str, key: bytes = key, cid: str = cid) -> str | None:
                return self.keys.seal(key, "crm.customers", column, cid, value)

            self.emit(
                "crm.customers",
                tid,
                cid,
                sid,
                home,
                sealed("first_name", first),
                sealed("last_name", last),
                sealed("email", email),
                sealed("phone", phone),
                sealed("street", f"{rng.choice(self.p.streets)} {rng.randint(1, 200)}"),
                sealed("postal_code", f"{postal}{rng.randint(100, 999)}"),
                sealed("city", city),
                rng.choice(("email", "sms", "voice", "web")),
                _weighted(rng, LEAD_SOURCES[vertical]),
                _ts(at),
                _ts(at),
                _ts(at),
            )
            out.append((cid, home))
        return out

    def vehicles(
        self, rng: random.Random, tid: str, customers: list[tuple[str, str]]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for cid, _home in customers:
            for _ in range(rng.choice((1, 1, 1, 2))):
                make, models = rng.choice(VEHICLES)
                year = rng.randint(2008, 2025)
                at = self.now - rng.randint(0, 700) * DAY
                vid = self.uid(rng, at)
                plate = (
                    f"{rng.choice(CITIES)[1]}-{chr(65 + rng.randint(0, 25))}"
                    f"{chr(65 + rng.randint(0, 25))} {rng.randint(1, 9999)}"
                )
                tuv_due = self.now + rng.randint(-60, 730) * DAY
                sid, key = self.customer_subjects[cid]
                self.emit(
                    "crm.vehicles",
                    tid,
                    vid,
                    sid,
                    cid,
                    make,
                    rng.choice(models),
                    year,
                    rng.choice(("petrol", "petrol", "diesel", "diesel", "electric", "hybrid")),
                    self.keys.seal(key, "crm.vehicles", "license_plate", vid, plate),
                    self.keys.plate_index(plate),
                    rng.randint(5_000, 250_000),
                    _date(tuv_due),
                    _date(self.now - rng.randint(10, 700) * DAY),
                    _ts(at),
                    _ts(at),
                )
                out.setdefault(cid, vid)
        return out

    def leads(
        self,
        rng: random.Random,
        vertical: str,
        tid: str,
        locations: list[str],
        customers: list[tuple[str, str]],
        n: int,
    ) -> list[tuple[str, str, str]]:
        converted: list[tuple[str, str, str]] = []
        for i in range(n):
            age = 365 * DAY * rng.random() ** 1.6
            at = self.now - age
            lid = self.uid(rng, at)
            source = _weighted(rng, LEAD_SOURCES[vertical])
            # Older leads are more often closed; fresh ones are mostly still open.
            r = rng.random() * (0.35 + 0.65 * min(age / (60 * DAY), 1.0))
            status = (
                "new"
                if r < 0.12
                else "contacted"
                if r < 0.22
                else "qualified"
                if r < 0.32
                else "converted"
                if r < 0.62
                else "lost"
            )
            score = max(
                0,
                min(
                    100,
                    int(
                        rng.gauss(
                            {
                                "new": 35,
                                "contacted": 45,
                                "qualified": 68,
                                "converted": 75,
                                "lost": 25,
                            }[status],
                            15,
                        )
                    ),
                ),
            )
            first, last, email, phone = self.person(rng, 100_000 + i)
            customer = loc = None
            loc = rng.choice(locations)
            if status == "converted":
                customer, loc = rng.choice(customers)
                converted.append((lid, customer, loc))
            gap = DAY * rng.uniform(0.1, 3)
            contacted = _ts(at + gap) if status != "new" else None
            qualified = _ts(at + 2 * gap) if status in ("qualified", "converted") else None
            persona = rng.choice(PERSONAS) if source == "visibility_check" else None
            lead_email = email if rng.random() < 0.9 else None
            sid, key = self.subject(tid, at, lead_email, phone)

            def sealed(
                column: str, value: str | None, key: bytes = key, lid: str = lid
            ) -> str | None:
                return self.keys.seal(key, "crm.leads", column, lid, value)

            self.emit(
                "crm.leads",
                tid,
                lid,
                sid,
                loc,
                customer,
                source,
                status,
                score,
                persona,
                sealed("first_name", first),
                sealed("last_name", last),
                sealed("email", lead_email),
                sealed("phone", phone),
                None,
                rng.choice((None, 5000, 25000, 90000, 250000)),
                rng.choice(LOST_REASONS) if status == "lost" else None,
                contacted,
                qualified,
                _ts(at + 4 * gap) if status == "converted" else None,
                _ts(at + 3 * gap) if status == "lost" else None,
                _ts(at),
                _ts(at),
            )
        return converted

    def bookings(
        self,
        rng: random.Random,
        vertical: str,
        tid: str,
        locations: list[str],
        customers: list[tuple[str, str]],
        vehicles: dict[str, str],
        services: list[tuple[str, str, int]],
        leads: list[tuple[str, str, str]],
        n: int,
    ) -> None:
        kind = BOOKING_KIND[vertical]
        for i in range(n):
            if i < len(leads):
                lead_id, cid, loc = leads[i]
            else:
                lead_id = None
                cid, loc = rng.choice(customers)
            start = self.now + rng.randint(-330, 60) * DAY + rng.randint(10, 21) * 3600
            created = min(start, self.now) - rng.randint(1, 30) * DAY
            bid = self.uid(rng, created)
            sid, sname, price = rng.choice(services)
            qty = (
                rng.randint(15, 120)
                if vertical == "caterer"
                else rng.randint(2, 8)
                if vertical == "restaurant"
                else 1
            )
            unit = price or 2500
            total = qty * unit
            deposit = total * 30 // 100 if vertical == "caterer" else 0
            if start > self.now:
                status = rng.choice(
                    ("inquiry", "confirmed", "confirmed", "deposit_paid" if deposit else "paid")
                )
            else:
                status = rng.choices(
                    ("fulfilled", "reviewed", "cancelled", "no_show"), (55, 25, 12, 8)
                )[0]
            confirmed = _ts(created + DAY) if status != "inquiry" else None
            cancelled = _ts(created + 2 * DAY) if status == "cancelled" else None
            fulfilled = _ts(start + 3 * 3600) if status in ("fulfilled", "reviewed") else None
            self.emit(
                "commerce.bookings",
                tid,
                bid,
                loc,
                cid,
                lead_id,
                vehicles.get(cid) if vertical == "workshop" else None,
                kind,
                status,
                _ts(start),
                _ts(start + 3 * 3600),
                qty if vertical != "workshop" else None,
                total,
                deposit,
                confirmed,
                fulfilled,
                cancelled,
                "Kunde hat abgesagt" if cancelled else None,
                _ts(created),
                _ts(created),
            )
            self.emit(
                "commerce.booking_items",
                tid,
                self.uid(rng, created),
                bid,
                sid,
                sname,
                qty,
                unit,
                _ts(created),
                _ts(created),
            )
            self.payments(rng, tid, bid, cid, status, total, deposit, created, start)

    def payments(
        self,
        rng: random.Random,
        tid: str,
        bid: str,
        cid: str,
        status: str,
        total: int,
        deposit: int,
        created: float,
        start: float,
    ) -> None:
        if status in ("inquiry", "confirmed", "cancelled", "no_show"):
            return
        parts = [("deposit", deposit, created + 2 * DAY)] if deposit else []
        if status != "deposit_paid":
            parts.append(("balance" if deposit else "full", total - deposit, min(start, self.now)))
        method = rng.choice(("card", "card", "sepa", "cash", "paypal", "stripe"))
        for kind, amount, at in parts:
            if amount <= 0:
                continue
            pid = self.uid(rng, at)
            self.emit(
                "commerce.payments",
                tid,
                pid,
                bid,
                cid,
                kind,
                method,
                "succeeded",
                amount,
                "stripe" if method in ("card", "stripe") else None,
                f"pi_{pid[:8]}{pid[-12:]}" if method in ("card", "stripe") else None,
                _ts(at),
                _ts(at),
                _ts(at),
            )


def generate_chunk(spec: ChunkSpec) -> dict[str, str]:
    """The COPY text (one string per table, in load order) for the tenants of `spec`."""
    chunk = _Chunk(spec)
    for tenant in spec.tenants:
        chunk.tenant(tenant)
    return {table: "\n".join(lines) + "\n" for table, lines in chunk.rows.items() if lines}
