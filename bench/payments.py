"""Payment reconciliation benchmarks: how well and how fast notifications find their bookings.

- `payment_match_quality`: a labelled set of at least 5,000 notifications against 2,000 open
  catering bookings, written as the providers send them (Venmo, Zelle from three banks, Stripe,
  PayPal), DKIM-signed, read from a Maildir and imported exactly as
  `tenantry payments import` does. Hard cases: look-alike and shared names, nicknames, name
  order and case, umlaut spellings, spouses and friends paying (with the booking code, with the
  surname in the memo, with nothing), split payments (two payers), provider fees kept or added,
  deposit and balance of one booking in the same batch, unrelated payments, forged messages
  (changed after signing, signed by another domain, unsigned) and re-deliveries. `value` is the
  precision of the automatic matches; `params` hold recall, forged messages matched (must be
  0), duplicates recognised and a breakdown per case. Baseline: what the open-source anchors
  do (Odoo, ERPNext, beancount importers): exact amount, a random pick among equal candidates,
  scored on the same notices. Target: precision >= 0.99 at recall >= 0.95, 0 forged matched.
- `payment_match_rate`: notifications parsed, verified, matched and recorded per second
  against one tenant with 100,000 open bookings (a clone of a dataset built once), through the
  same batch import. Baseline: reading the same Maildir alone (MIME parsing and DKIM), the
  floor any importer pays. Target: >= 2,000/s.

Environment: BENCH_PAY_BOOKINGS (2000), BENCH_PAY_OPEN (100000), BENCH_PAY_RATE_NOTICES
(10000).
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa
from faker import Faker
from psycopg import sql

from bench.common import BENCH_MASTER, Result, database, knob, scaled_name
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.demo.payment_mail import (
    BANK_FROM,
    SamplePayment,
    TestKey,
    keys_file_text,
    make_test_key,
    sign,
    signed_mail,
    write_mail,
)
from tenantry.domain.bookings import booking_code
from tenantry.models import Location
from tenantry.models.enums import BookingKind, BookingStatus, LegalForm, MembershipRole, Vertical
from tenantry.payments.book import OpenBook
from tenantry.payments.importer import import_notices
from tenantry.payments.matching import DEFAULT_FEES, Policy
from tenantry.payments.sources import parse_workers, read_path
from tenantry.payments.trust import DkimVerifier
from tenantry.seed.generator import Scale, TenantSpec
from tenantry.seed.loader import load
from tenantry.services.bookings import ItemLine, create_booking, transition_booking
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal
from tenantry.services.resources import create_customer

FIRST = [
    "Robert",
    "William",
    "Elizabeth",
    "Katherine",
    "Michael",
    "James",
    "Thomas",
    "Alexander",
    "Christopher",
    "Daniel",
    "David",
    "Joseph",
    "Samuel",
    "Benjamin",
    "Matthew",
    "Nicholas",
    "Anthony",
    "Steven",
    "Jennifer",
    "Susan",
    "Margaret",
    "Andrew",
    "Richard",
    "Edward",
    "Johannes",
    "Ulrich",
    "Stefanie",
    "Sebastian",
    "Florian",
    "Maximilian",
    "Patricia",
    "Rebecca",
    "Victoria",
    "Jonathan",
    "Gregory",
    "Timothy",
    "Erika",
    "Erica",
    "Anna",
    "Hannah",
    "Laura",
    "Lara",
    "Sophie",
    "Sofia",
    "Jonas",
    "Lukas",
    "Lucas",
    "Leon",
    "Noah",
    "Emma",
    "Mia",
    "Lena",
    "Lea",
    "Marie",
    "Maria",
    "Paul",
    "Felix",
    "Elias",
    "Finn",
    "Ida",
    "Jana",
    "Tim",
]
LAST = [
    "Mustermann",
    "Musterfrau",
    "Beispiel",
    "Meyer",
    "Meier",
    "Mayer",
    "Maier",
    "Schmidt",
    "Schmitt",
    "Schmid",
    "Müller",
    "Mueller",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitz",
    "Werner",
    "Krause",
    "Lehmann",
    "Köhler",
    "Smith",
    "Smyth",
    "Johnson",
    "Johnsen",
    "Miller",
    "Brown",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
]
NICK = {
    "Robert": "Bob",
    "William": "Bill",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Michael": "Mike",
    "James": "Jim",
    "Thomas": "Tom",
    "Alexander": "Alex",
    "Christopher": "Chris",
    "Daniel": "Dan",
    "Joseph": "Joe",
    "Samuel": "Sam",
    "Matthew": "Matt",
    "Anthony": "Tony",
    "Jennifer": "Jenny",
    "Margaret": "Peggy",
    "Richard": "Rick",
    "Johannes": "Hans",
    "Sebastian": "Basti",
    "Maximilian": "Max",
}
FRIENDS = ("Jordan Rivera", "Casey Nguyen", "Taylor Brooks", "Morgan Ellis", "Riley Chen")
PROVIDERS = (("zelle", 40), ("venmo", 25), ("stripe", 20), ("paypal", 15))
BANKS = tuple(BANK_FROM)


@dataclass
class Person:
    first: str
    last: str


@dataclass
class Booked:
    id: uuid.UUID
    person: Person
    total: int
    deposit: int
    starts_at: datetime
    created_at: datetime | None = None


@dataclass
class Case:
    """One labelled notification: which booking it pays (None: none), and how it is hard."""

    kind: str
    label: uuid.UUID | None
    raw: bytes
    amount: int
    provider: str
    forged: bool = False
    duplicate: bool = False


def _provider(rng: random.Random) -> str:
    return rng.choices([p for p, _ in PROVIDERS], [w for _, w in PROVIDERS])[0]


def _spelling(rng: random.Random, p: Person) -> tuple[str, str]:
    """How the customer's own name reaches a provider, and the case's label."""
    roll = rng.random()
    if roll < 0.45:
        return f"{p.first} {p.last}", "customer"
    if roll < 0.6:
        return f"{p.first} {p.last}".upper(), "customer upper case"
    if roll < 0.72:
        return f"{p.last}, {p.first}", "customer surname first"
    if roll < 0.82:
        return f"{p.first[0]}. {p.last}", "customer initial"
    if roll < 0.9 and p.first in NICK:
        return f"{NICK[p.first]} {p.last}", "customer nickname"
    folded = p.last.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
    return f"{p.first} {folded}", "customer transliterated"


def _fee_amount(rng: random.Random, provider: str, cents: int) -> tuple[int, str]:
    fees = DEFAULT_FEES.get(provider)
    if not fees or rng.random() < 0.6:
        return cents, "exact"
    fee = fees[0]
    if rng.random() < 0.5:
        return cents - fee.of(cents), "net of fee"
    return cents + fee.of(cents), "fee added"


class Generator:
    """Writes the labelled notifications for a set of bookings."""

    def __init__(self, rng: random.Random, key: TestKey, rogue: TestKey) -> None:
        self.rng, self.key, self.rogue = rng, key, rogue
        self.cases: list[Case] = []
        self.count = 0

    def _tx(self, provider: str) -> str:
        """A transaction id as the provider writes it (Stripe pi_..., PayPal 17 characters)."""
        self.count += 1
        unique = f"{self.rng.getrandbits(40):010X}{self.count:07d}"
        if provider == "stripe":
            return f"pi_3Q{unique}abc"
        return unique

    def mail(
        self,
        kind: str,
        label: uuid.UUID | None,
        amount: int,
        payer: str,
        when: datetime,
        *,
        memo: str | None = None,
        payer_email: str | None = None,
        provider: str | None = None,
    ) -> Case:
        provider = provider or _provider(self.rng)
        payment = SamplePayment(
            amount_cents=amount,
            payer_name=payer,
            occurred_at=when,
            transaction_id=self._tx(provider),
            payer_email=payer_email,
            memo=memo,
        )
        bank = self.rng.choice(BANKS) if provider == "zelle" else None
        raw = signed_mail(provider, payment, self.key, bank=bank)
        case = Case(kind, label, raw, amount, provider)
        self.cases.append(case)
        return case

    def payment(self, kind: str, b: Booked, cents: int, when: datetime) -> None:
        """One part of a booking paid by someone, as the mix of real payers has it."""
        rng = self.rng
        code = booking_code(b.id)
        roll = rng.random()
        if roll < 0.8:
            payer, how = _spelling(rng, b.person)
            memo = rng.choice([None, None, "hibachi party", f"deposit {code}", "catering"])
        elif roll < 0.87:
            payer, how = f"{rng.choice(FIRST)} {b.person.last}", "spouse (same surname)"
            memo = rng.choice([None, "for our party"])
        elif roll < 0.93:
            payer, how = rng.choice(FRIENDS), "friend with booking code"
            memo = f"for {b.person.first}'s party, booking {code}"
        elif roll < 0.975:
            payer, how = rng.choice(FRIENDS), "friend naming the customer"
            memo = f"hibachi for the {b.person.last} party"
        else:
            payer, how = rng.choice(FRIENDS), "friend without a hint"
            memo = rng.choice([None, "dinner"])
        if rng.random() < 0.025 and cents % 2 == 0:  # two payers share the part
            half = cents // 2
            name = f"{b.person.first} {b.person.last}"
            self.mail(f"{kind} split, customer", b.id, half, name, when)
            later = when + timedelta(hours=2)
            self.mail(
                f"{kind} split, friend",
                b.id,
                half,
                rng.choice(FRIENDS),
                later,
                memo=f"my half, {code}",
            )
            return
        provider = _provider(rng)
        amount, fee = _fee_amount(rng, provider, cents)
        label = f"{kind}: {how}" + ("" if fee == "exact" else f", {fee}")
        self.mail(label, b.id, amount, payer, when, memo=memo, provider=provider)

    def noise(self, now: datetime) -> None:
        amount = self.rng.randrange(1_500, 90_000)
        self.mail("unrelated payment", None, amount, self.rng.choice(FRIENDS), now)

    def forged(self, b: Booked, now: datetime) -> None:
        payer = f"{b.person.first} {b.person.last}"
        provider = _provider(self.rng)
        payment = SamplePayment(b.deposit or b.total, payer, now, self._tx(provider))
        bank = self.rng.choice(BANKS) if provider == "zelle" else None
        raw = write_mail(provider, payment, bank=bank)
        style = self.rng.randrange(3)
        if style == 0:
            kind, forged = "forged: unsigned", raw
        elif style == 1:
            kind, forged = "forged: signed by another domain", sign(raw, self.rogue, "example.org")
        else:
            signed = signed_mail(provider, payment, self.key, bank=bank)
            kind, forged = "forged: changed after signing", signed.replace(b"Hibachi", b"Hibachy")
            if forged == signed:
                forged = signed[:-2] + b"X\r\n"
        self.cases.append(Case(kind, b.id, forged, payment.amount_cents, provider, forged=True))

    def redeliver(self, case: Case) -> None:
        self.cases.append(
            Case("re-delivered", case.label, case.raw, case.amount, case.provider, duplicate=True)
        )


def _people(rng: random.Random, n: int) -> list[Person]:
    """Names as a caterer's customers have them: most drawn from US and German name
    frequencies, a fifth from a small pool full of nicknames, namesakes and spellings that
    differ by a letter (Meyer, Meier, Mayer; Erika, Erica)."""
    fakers = [Faker(locale) for locale in ("en_US", "de_DE")]
    for i, f in enumerate(fakers):
        f.seed_instance(rng.randrange(1 << 30) + i)
    out = []
    for _ in range(n):
        if rng.random() < 0.2:
            out.append(Person(rng.choice(FIRST), rng.choice(LAST)))
        else:
            f = rng.choice(fakers)
            out.append(Person(f.first_name(), f.last_name()))
    return out


def _caterer(db: Database, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name=f"{slug} LLC",
            vertical=Vertical.CATERER,
            legal_form=LegalForm.OTHER,
        )
        location = Location(
            tenant_id=tenant.id, id=uow.ids(), name="Kitchen", slug="main", vertical="caterer"
        )
        uow.session.add(location)
        uow.commit()
    return tenant.id, location.id


def _quality_bookings(
    db: Database, tenant_id: uuid.UUID, location_id: uuid.UUID, n: int, rng: random.Random
) -> list[Booked]:
    """`n` confirmed bookings of new customers through the services, nothing paid, made over
    the last four months (as an owner would find them): each was made on its own day, its
    event 10 to 120 days later."""
    principal = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
    out: list[Booked] = []
    now = datetime.now(UTC)
    for start in range(0, n, 250):
        with db.tenant_uow(tenant_id, actor="bench") as uow:
            for person in _people(rng, min(250, n - start)):
                total = rng.randrange(10, 61) * rng.choice((5500, 6000, 6500, 7500))
                deposit = rng.choice((0, 10_000, 20_000, 25_000, total // 4))
                customer = create_customer(
                    uow,
                    principal,
                    first_name=person.first,
                    last_name=person.last,
                    email=f"guest-{uuid.uuid4().hex[:12]}@example.com",
                )
                made = now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60))
                starts = made + timedelta(days=rng.randrange(10, 120))
                booking = create_booking(
                    uow,
                    principal,
                    location_id=location_id,
                    customer_id=customer.id,
                    kind=BookingKind.APPOINTMENT,
                    starts_at=starts,
                    items=[ItemLine(quantity=1, description="Hibachi", unit_price_cents=total)],
                    deposit_cents=deposit,
                    currency="USD",
                )
                transition_booking(uow, principal, booking.id, BookingStatus.CONFIRMED)
                out.append(Booked(booking.id, person, total, deposit, starts, made))
            uow.commit()
    with db.owner_engine.begin() as conn:  # when each booking was made (the service stamps now)
        conn.execute(
            sa.text("UPDATE commerce.bookings SET created_at = :made WHERE id = :id"),
            [{"made": b.created_at, "id": b.id} for b in out],
        )
    return out


def _labelled(
    bookings: list[Booked], key: TestKey, rogue: TestKey, rng: random.Random
) -> list[Case]:
    """At least 2.5 notifications per booking, with every hard case mixed in."""
    gen = Generator(rng, key, rogue)
    now = datetime.now(UTC)
    for b in bookings:
        # The deposit (or the whole price) comes within three days of booking.
        first_at = (b.created_at or now) + timedelta(hours=rng.randrange(1, 72))
        if b.deposit:
            gen.payment("deposit", b, b.deposit, first_at)
            if rng.random() < 0.95:
                later = b.starts_at - timedelta(days=rng.randrange(0, 10))
                gen.payment("balance", b, b.total - b.deposit, later)
        else:
            gen.payment("full", b, b.total, first_at)
    legit = [c for c in gen.cases if c.label is not None]
    for _ in range(len(bookings) * 9 // 20):
        gen.noise(now - timedelta(days=rng.randrange(0, 120)))
    for b in rng.sample(bookings, len(bookings) // 7):
        gen.forged(b, now)
    for case in rng.sample(legit, len(bookings) // 7):
        gen.redeliver(case)
    cases = gen.cases
    rng.shuffle(cases)
    return cases


def _write_maildir(root: Path, cases: list[Case]) -> dict[str, Case]:
    """Each case a message file in `root/new`; file name -> case."""
    (root / "new").mkdir(parents=True)
    (root / "cur").mkdir()
    names = {}
    for i, case in enumerate(cases):
        name = f"{i:06d}.bench:2,"
        (root / "new" / name).write_bytes(case.raw)
        names[f"new/{name}"] = case
    return names


def _baseline(cases: list[Case], bookings: list[Booked], rng: random.Random) -> tuple[float, float]:
    """The anchors' rule: a booking whose deposit, balance or total equals the amount, one
    picked at random among equals; scored like the matcher (forged ones count as matched)."""
    by_amount: dict[int, list[uuid.UUID]] = {}
    for b in bookings:
        for cents in {b.deposit, b.total - b.deposit, b.total} - {0}:
            by_amount.setdefault(cents, []).append(b.id)
    matched = correct = 0
    for c in cases:
        if c.duplicate:
            continue
        found = by_amount.get(c.amount)
        if found:
            matched += 1
            correct += int(rng.choice(found) == c.label and not c.forged)
    legit = sum(1 for c in cases if c.label and not c.forged and not c.duplicate)
    return (correct / matched if matched else 0.0), (correct / legit if legit else 0.0)


def _keys(folder: Path) -> tuple[TestKey, TestKey, DkimVerifier]:
    key, rogue = make_test_key(), make_test_key(selector="rogue")
    keys_file = folder / "dkim-keys.txt"
    keys_file.write_text(keys_file_text(key) + rogue.keys_line("example.org") + "\n")
    return key, rogue, DkimVerifier.from_keys_file(keys_file)


def payment_match_quality(server: DatabaseTarget) -> Result:
    n = knob("BENCH_PAY_BOOKINGS", 2000, 60)
    rng = random.Random(20)
    target = database(server, scaled_name("bench_payments_quality"), fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    try:
        tenant_id, location_id = _caterer(db, "hibachi-bench")
        bookings = _quality_bookings(db, tenant_id, location_id, n, rng)
        with tempfile.TemporaryDirectory() as tmp:
            key, rogue, verifier = _keys(Path(tmp))
            cases = _labelled(bookings, key, rogue, rng)
            files = _write_maildir(Path(tmp) / "mail", cases)
            started = time.perf_counter()
            outcomes = list(
                import_notices(
                    db,
                    tenant_id,
                    read_path(Path(tmp) / "mail", verifier=verifier, workers=parse_workers()),
                    policy=Policy(),
                )
            )
            seconds = time.perf_counter() - started
    finally:
        db.dispose()
    by_kind: dict[str, Counter[str]] = {}
    matched = correct = legit = forged_matched = dup_seen = 0
    for outcome in outcomes:
        case = files[str(outcome.origin)]
        kind = case.kind.split(":")[0] if case.kind.startswith("forged") else case.kind
        by_kind.setdefault(kind, Counter())[outcome.status] += 1
        if outcome.status == "duplicate":  # the copy read second, whichever file it is
            dup_seen += 1
            continue
        if case.label is not None and not case.forged:
            legit += 1
        if outcome.status == "matched":
            matched += 1
            forged_matched += case.forged
            right = outcome.booking_id == case.label and not case.forged
            correct += right
            if not right:
                by_kind[kind]["wrong"] += 1
    precision = correct / matched if matched else 0.0
    recall = correct / legit if legit else 0.0
    base_precision, base_recall = _baseline(cases, bookings, random.Random(7))
    return Result(
        name="payment_match_quality",
        value=round(precision, 4),
        unit="precision",
        baseline="exact amount, random pick among equal candidates (the anchors' rule)",
        baseline_value=round(base_precision, 4),
        ratio=round(precision / base_precision, 2) if base_precision else 0.0,
        target="precision >= 0.99 at recall >= 0.95; forged matched: 0",
        params={
            "recall": round(recall, 4),
            "baseline_recall": round(base_recall, 4),
            "notifications": len(outcomes),
            "open_bookings": len(bookings),
            "auto_matched": matched,
            "forged_matched": forged_matched,
            "forged": sum(c.forged for c in cases),
            "duplicates_recognised": f"{dup_seen}/{sum(c.duplicate for c in cases)}",
            "seconds": round(seconds, 2),
            "by_case": {k: dict(v) for k, v in sorted(by_kind.items())},
        },
    )


# -- the rate against 100,000 open bookings -----------------------------------------------

RATE_TENANT = TenantSpec(0, "caterer", "Payments Rate Catering", "payments-rate")
OPEN = """
INSERT INTO commerce.bookings (tenant_id, id, location_id, customer_id, subject_id, kind, status,
                               starts_at, total_cents, deposit_cents, currency, confirmed_at)
SELECT c.tenant_id, gen_random_uuid(), l.id, c.id, c.subject_id, 'catering_event', 'confirmed',
       now() + make_interval(days => 10 + (abs(hashtext(c.id::text)) % 110)),
       t.total, t.total / 4, 'USD', now()
  FROM crm.customers c
  JOIN LATERAL (SELECT id FROM identity.locations WHERE tenant_id = c.tenant_id LIMIT 1) l ON true
  JOIN LATERAL (SELECT (10 + abs(hashtext(c.id::text || 'g')) % 51)
                       * (5500 + 500 * (abs(hashtext(c.id::text || 'p')) % 5)) AS total) t ON true
 WHERE c.tenant_id = :tenant
"""


def _rate_base(server: DatabaseTarget, n: int) -> str:
    """A database with one tenant of `n` customers, each with one open booking (built once)."""
    name = scaled_name(f"bench_payments_open_{n}")
    target = database(server, name, fresh=False)
    scale = Scale("payments-rate", (1, 1), n, n // 10, 0, 1, jitter=False)
    load(
        target.libpq(target.owner_url),
        [RATE_TENANT],
        master=BENCH_MASTER,
        scale=scale,
        seed=9,
        anchor_s=1_780_000_000,
    )
    db = open_database(target=target, master=BENCH_MASTER)
    try:
        with db.platform_uow() as uow:
            tenant = uow.repos.tenants.by_slug(RATE_TENANT.slug)
            assert tenant is not None
            count = uow.session.scalar(
                sa.text("SELECT count(*) FROM commerce.bookings WHERE tenant_id = :t"),
                {"t": tenant.id},
            )
            if not count:
                uow.session.execute(sa.text(OPEN), {"tenant": tenant.id})
                uow.commit()
    finally:
        db.dispose()
    return name


def _clone(server: DatabaseTarget, template: str, name: str) -> DatabaseTarget:
    with psycopg.connect(server.libpq(server.admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return server.with_database(name)


def payment_match_rate(server: DatabaseTarget) -> Result:
    n_open = knob("BENCH_PAY_OPEN", 100_000, 300)
    n = knob("BENCH_PAY_RATE_NOTICES", 10_000, 100)
    template = _rate_base(server, n_open)
    target = _clone(server, template, scaled_name("bench_payments_rate_run"))
    db = open_database(target=target, master=BENCH_MASTER)
    rng = random.Random(3)
    try:
        with db.platform_uow() as uow:
            tenant = uow.repos.tenants.by_slug(RATE_TENANT.slug)
            assert tenant is not None
            tenant_id = tenant.id
        with db.tenant_uow(tenant_id) as uow:
            book = OpenBook.load(uow)
        chosen = rng.sample(sorted(book.bookings), min(n, len(book.bookings)))
        with tempfile.TemporaryDirectory() as tmp:
            key, rogue, verifier = _keys(Path(tmp))
            gen = Generator(rng, key, rogue)
            now = datetime.now(UTC)
            for booking_id in chosen:
                b = book.bookings[booking_id]
                person = b.people[0] if b.people else None
                who = Person(person.first_name or "Erika", person.last_name or "Mustermann")
                booked = Booked(b.id, who, b.total_cents, b.deposit_cents, b.starts_at)
                gen.payment("deposit", booked, b.deposit_cents, now)
            files = _write_maildir(Path(tmp) / "mail", gen.cases)
            mail = Path(tmp) / "mail"
            started = time.perf_counter()
            read = sum(1 for _ in read_path(mail, verifier=verifier, workers=parse_workers()))
            parse_seconds = time.perf_counter() - started
            started = time.perf_counter()
            outcomes = list(
                import_notices(
                    db,
                    tenant_id,
                    read_path(mail, verifier=verifier, workers=parse_workers()),
                    policy=Policy(),
                )
            )
            seconds = time.perf_counter() - started
    finally:
        db.dispose()
    statuses = Counter(o.status for o in outcomes)
    rate = len(outcomes) / seconds
    parse_rate = read / parse_seconds
    return Result(
        name="payment_match_rate",
        value=round(rate, 1),
        unit="notifications/s",
        baseline="reading the same Maildir alone (MIME parsing and DKIM verification)",
        baseline_value=round(parse_rate, 1),
        ratio=round(rate / parse_rate, 3),
        target=">= 2,000 notifications/s against 100,000 open bookings",
        params={
            "open_bookings": len(book.bookings),
            "notifications": len(outcomes),
            "files": len(files),
            "statuses": dict(statuses),
            "seconds": round(seconds, 2),
            "parse_seconds": round(parse_seconds, 2),
        },
    )
