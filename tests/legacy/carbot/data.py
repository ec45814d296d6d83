"""Generated data for the CarBot-shaped legacy source (tests/legacy/carbot/schema.sql).

Owns the fixture's rows: `apply_schema` builds the source, `populate` fills it with COPY at seed
002's volumes times `scale` (500 workshops, 25,000 customers, 100,000 leads, 1,000,000 chat
messages at scale 1) and returns the rows per table. Plain `random` rather than Faker: the
benchmark needs a million messages in seconds. Names are obviously fake, e-mails use
example.com/example.org, phones +49 30. The data carries the product's messiness on purpose:
duplicate people with other spellings, free-text statuses, soft deletes, orphan workshop ids,
unparseable phones and e-mails, Luhn-valid card numbers in free text, plaintext IBANs.
It must not print any of the data it makes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

__all__ = ["SCALE_ONE", "apply_schema", "populate"]

HERE = Path(__file__).parent

# Rows per table at scale 1.0 (seed 002: workshops, customers, leads, chat messages).
SCALE_ONE: dict[str, int] = {
    "workshops": 500,
    "customers": 25_000,
    "leads": 100_000,
    "chat_messages": 1_000_000,
    "chat_sessions": 100_000,
    "appointments": 20_000,
    "workshop_clients": 5_000,
    "customer_vehicles": 15_000,
    "lead_scores": 30_000,
    "consent_records": 2_000,
}

FIRST = [
    "Testa",
    "Fakio",
    "Musta",
    "Probe",
    "Demi",
    "Beispiel",
    "Exempla",
    "Dummo",
    "Fiktiv",
    "Platz",
    "Halter",
    "Muster",
    "Anon",
    "Nomen",
    "Quasi",
    "Pseudo",
]
LAST = [
    "Müller-Test",
    "Schmidt-Fake",
    "Beispielmann",
    "Musterfrau",
    "Probehaus",
    "Fiktivberg",
    "Platzhalter",
    "Dummy",
    "Exempelstein",
    "Testkamp",
    "Fakebauer",
    "Nullmeier",
]
CITIES = [
    ("10115", "Berlin"),
    ("20095", "Hamburg"),
    ("80331", "München"),
    ("50667", "Köln"),
    ("60311", "Frankfurt am Main"),
    ("70173", "Stuttgart"),
    ("04109", "Leipzig"),
]
STREETS = ["Musterstraße", "Beispielweg", "Testallee", "Probegasse", "Fiktivring"]
MAKES = [
    ("VW", ["Golf", "Passat", "Polo"]),
    ("BMW", ["3er", "5er", "X1"]),
    ("Mercedes-Benz", ["C-Klasse", "A-Klasse"]),
    ("Audi", ["A4", "A3"]),
    ("Opel", ["Astra", "Corsa"]),
    ("Tesla", ["Model 3"]),
]
FUELS = ["Benzin", "Diesel", "Elektro", "Hybrid", "Autogas", "benzin", "DIESEL", "Super E10"]
LEAD_STATUS = [
    "new",
    "neu",
    "Neu",
    "NEW ",
    "contacted",
    "kontaktiert",
    "in_progress",
    "qualified",
    "qualifiziert",
    "converted",
    "Termin vereinbart",
    "gewonnen",
    "closed",
    "lost",
    "verloren",
    "archived",
]
APPT_STATUS = [
    "scheduled",
    "geplant",
    "confirmed",
    "Bestätigt",
    "completed",
    "erledigt",
    "cancelled",
    "canceled",
    "abgesagt",
    "no_show",
    "nicht erschienen",
]
SERVICES = [
    ("Inspektion", "Wartung", 189.0),
    ("Ölwechsel inkl. Filter", "Wartung", 79.9),
    ("TÜV Hauptuntersuchung", "Prüfung", 119.0),
    ("Bremsenservice", "Reparatur", 249.5),
    ("Reifenwechsel", "Reifen", 39.0),
    ("Klimaanlagenservice", "Wartung", 99.0),
    ("Fahrzeugdiagnose", "Diagnose", 59.0),
    ("Zahnriemenwechsel", "Reparatur", 549.0),
]
USER_LINES = [
    "Hallo, ich brauche einen Termin für mein Auto",
    "Können Sie mir einen Kostenvoranschlag machen?",
    "Wann haben Sie Zeit für eine Inspektion?",
    "Mein Auto macht komische Geräusche",
    "Ich brauche neue Reifen",
    "Was kostet ein Ölwechsel?",
    "Meine Nummer ist +49 30 5550 1234, bitte zurückrufen",
    "Hello, I need service for my car",
]
BOT_LINES = [
    "Gerne helfe ich Ihnen! Wann passt Ihnen ein Termin?",
    "Ein Ölwechsel kostet bei uns ab 79,90 EUR.",
    "Wir haben Mittwoch um 10 Uhr einen Termin frei.",
    "Können Sie mir Marke und Modell Ihres Fahrzeugs nennen?",
]
CARD_LINE = "Kann ich mit Karte zahlen? 4111 1111 1111 1111"  # Luhn-valid test card number
INTENTS = ["appointment", "pricing", "diagnosis", "smalltalk", "\\N"]
TEST_IBAN = "DE89370400440532013000"
NULL = "\\N"


def apply_schema(conninfo: str, *, integer_workshops: bool = False) -> None:
    """Create the CarBot-shaped source; `integer_workshops` also applies the SERIAL-id rebuild."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute((HERE / "schema.sql").read_text(encoding="utf-8"))
        if integer_workshops:
            sql = (HERE / "integer_workshops.sql").read_text(encoding="utf-8")
            conn.execute(sql)


class _Gen:
    """Random values with one seeded generator; text already in COPY format."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.base = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())

    def uid(self) -> str:
        h = f"{self.r.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def ts(self, offset: int | None = None) -> str:
        t = self.base + (self.r.randrange(0, 360 * 86400) if offset is None else offset)
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S+00")

    def person(self) -> tuple[str, str]:
        return self.r.choice(FIRST), self.r.choice(LAST)

    def phone(self) -> str:
        return f"+49 30 {self.r.randrange(1000000, 9999999)}"


def _copy(conn: psycopg.Connection, table: str, cols: str, rows: Iterable[str]) -> int:
    """COPY text rows (tab-separated, already escaped) into `table`; returns the row count."""
    n = 0
    buf: list[str] = []
    with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for line in rows:
            buf.append(line)
            n += 1
            if len(buf) >= 20_000:
                cp.write("".join(buf))
                buf.clear()
        if buf:
            cp.write("".join(buf))
    return n


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")


def _n(total: float) -> int:
    return max(1, round(total))


def populate(conninfo: str, *, scale: float = 1.0, seed: int = 1) -> dict[str, int]:
    """Fill a database that already has schema.sql; returns rows written per table."""
    g = _Gen(seed)
    r = g.r
    counts: dict[str, int] = {}
    sizes = {k: _n(v * scale) for k, v in SCALE_ONE.items()}
    sizes["workshops"] = max(2, sizes["workshops"])
    with psycopg.connect(conninfo) as conn:
        int_ids = _workshop_id_is_integer(conn)
        ws = [g.uid() for _ in range(sizes["workshops"])]
        # A workshop deleted before the FK was dropped: rows still point at it.
        ghost = g.uid()
        slugs = [f"werkstatt-{i:04d}" for i in range(len(ws))]
        counts["workshops"] = _workshops(conn, g, ws, slugs, int_ids)
        counts["auth.users"], counts["workshop_users"] = _staff(conn, g, ws)
        counts["client_keys"] = _copy(
            conn,
            "client_keys",
            "id, workshop_id, key_value, name",
            (f"{g.uid()}\t{w}\tck_live_{s}\tWidget\n" for w, s in zip(ws, slugs, strict=True)),
        )

        def wsid() -> str:
            return ghost if r.random() < 0.003 else r.choice(ws)

        cust_ids: list[str] = []
        people: list[tuple[str, str, str, str, str]] = []
        counts["customers"] = _copy(
            conn,
            "customers",
            "id, workshop_id, slug, name, email, phone, address, city, "
            "postal_code, active, created_at",
            _customers(g, sizes["customers"], wsid, cust_ids, people),
        )
        counts["workshop_clients"] = _copy(
            conn,
            "workshop_clients",
            "id, workshop_id, name, email, phone, address, notes, status, total_value, created_at",
            _clients(g, sizes["workshop_clients"], wsid, people),
        )
        counts["customer_vehicles"] = _copy(
            conn,
            "customer_vehicles",
            "id, customer_id, license_plate, vin, make, model, year, fuel_type, mileage, "
            "last_service_date, tuv_expiry, is_active",
            _vehicles(g, sizes["customer_vehicles"], cust_ids),
        )
        lead_ids: list[str] = []
        counts["leads"] = _copy(
            conn,
            "leads",
            "id, kunde_id, name, telefon, email, anliegen, fahrzeug, "
            'chatverlauf, "timestamp", status, priority, source, '
            "consent_given, lead_score, estimated_value, workshop_id, "
            "deleted_at, created_at, updated_at",
            _leads(g, sizes["leads"], ws, slugs, ghost, lead_ids),
        )
        counts["lead_scores"] = _copy(
            conn,
            "lead_scores",
            "id, lead_id, total_score, score_breakdown, classification, priority, estimated_value",
            (
                f"{g.uid()}\t{lid}\t{r.randrange(0, 100)}\t{{}}\t"
                f"{r.choice(['Hot', 'Warm', 'Cold', 'Very Cold'])}\t"
                f"{r.choice(['High', 'Medium', 'Low'])}\t{r.randrange(50, 2500)}\n"
                for lid in r.sample(lead_ids, min(sizes["lead_scores"], len(lead_ids)))
            ),
        )
        counts.update(_services(conn, g, ws))
        counts["appointments"] = _copy(
            conn,
            "appointments",
            "id, workshop_id, customer_id, lead_id, appointment_date, duration_minutes, "
            "service_type, status, notes, created_at",
            _appointments(g, sizes["appointments"], wsid, cust_ids, lead_ids),
        )
        sessions: list[tuple[str, str, int]] = []
        split = divmod(sizes["chat_messages"], sizes["chat_sessions"])
        counts["chat_sessions"] = _copy(
            conn,
            "chat_sessions",
            "id, workshop_id, session_token, client_key, visitor_id, ip_address, message_count, "
            "started_at, last_activity, status, created_at",
            _sessions(g, sizes["chat_sessions"], split, ws, slugs, sessions),
        )
        counts["chat_messages"] = _copy(
            conn,
            "chat_messages",
            "id, session_id, content, message_type, model, tokens_used, detected_intent, "
            "client_key, created_at",
            _messages(g, split, sessions),
        )
        counts["payments"] = _copy(
            conn,
            "payments",
            "id, workshop_id, stripe_customer_id, amount, currency, status, payment_method, "
            "payment_date, description",
            (
                f"{g.uid()}\t{w}\tcus_test{i:06d}\t{r.choice([4900, 9900, 19900])}\teur\t"
                f"{r.choice(['succeeded', 'failed', 'pending', 'refunded'])}\t"
                f"{r.choice(['card', 'sepa_debit'])}\t{g.ts()}\tAbo CarBot\n"
                for i, w in enumerate(ws * 3)
            ),
        )
        counts["consent_records"] = _copy(
            conn,
            "consent_records",
            "id, client_key, consent_data, withdrawn_at, created_at",
            (
                f"{g.uid()}\tck_live_{r.choice(slugs)}\t"
                f"{json.dumps({'analytics': r.random() < 0.5, 'marketing': False})}\t"
                f"{g.ts() if r.random() < 0.1 else chr(92) + 'N'}\t{g.ts()}\n"
                for _ in range(sizes["consent_records"])
            ),
        )
        conn.commit()
        with conn.cursor() as cur:
            for table in ("workshops", "customers", "leads", "chat_sessions", "chat_messages"):
                cur.execute(f"ANALYZE {table}")
        conn.commit()
    return counts


def _workshop_id_is_integer(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = 'workshops' AND column_name = 'id'"
    ).fetchone()
    return row is not None and row[0] == "integer"


def _workshops(
    conn: psycopg.Connection, g: _Gen, ws: list[str], slugs: list[str], int_ids: bool
) -> int:
    r = g.r
    rows = []
    for i, (w, slug) in enumerate(zip(ws, slugs, strict=True)):
        first, last = g.person()
        zipc, city = r.choice(CITIES)
        name = f"Autowerkstatt {last} {i}"
        owner = f"owner{i}@example.com"
        addr = f"{r.choice(STREETS)} {r.randrange(1, 200)}"
        if int_ids:
            rows.append(
                f"{name}\t{first} {last}\t{owner}\t{g.phone()}\t{addr}\t{city}\t{zipc}\t{g.ts()}\n"
            )
            continue
        deleted = g.ts() if i % 50 == 7 else NULL
        plan = r.choice(["starter", "professional", "enterprise", "basic", "Professional "])
        status = r.choice(["trial", "active", "aktiv", "inactive", "cancelled"])
        rows.append(
            f"{w}\t{slug}\t{name}\t{first} {last}\t{owner}\tinfo{i}@example.org\t{g.phone()}\t"
            f"https://werkstatt-{i}.example.com\t{addr}\t{city}\t{zipc}\tDE\t"
            f"DE{r.randrange(100000000, 999999999)}\tMo-Fr: 8:00-18:00\t"
            f"{{Inspektion,Ölwechsel,TÜV}}\t{plan}\t{status}\tpm_test_{i:05d}\t{TEST_IBAN}\t"
            f"IBAN {TEST_IBAN} BIC COBADEFFXXX\t{deleted}\t{g.ts()}\t{g.ts()}\n"
        )
    if int_ids:
        cols = "name, owner_name, owner_email, phone, address, city, postal_code, created_at"
    else:
        cols = (
            "id, slug, name, owner_name, owner_email, email, phone, website, address, city, "
            "postal_code, country, vat_number, opening_hours, services, subscription_plan, "
            "subscription_status, payment_method_id, iban, bank_details, deleted_at, "
            "created_at, updated_at"
        )
    return _copy(conn, "workshops", cols, rows)


def _staff(conn: psycopg.Connection, g: _Gen, ws: list[str]) -> tuple[int, int]:
    users, links = [], []
    for i, w in enumerate(ws):
        for role in ("owner", "employee"):
            uid = g.uid()
            first, last = g.person()
            users.append(f"{uid}\t{role}{i}@example.com\t{g.ts()}\n")
            links.append(f"{g.uid()}\t{w}\t{uid}\t{role}\t{first}\t{last}\t{g.phone()}\n")
    n_users = _copy(conn, "auth.users", "id, email, created_at", users)
    n_links = _copy(
        conn,
        "workshop_users",
        "id, workshop_id, user_id, role, first_name, last_name, phone",
        links,
    )
    return n_users, n_links


def _customers(
    g: _Gen,
    n: int,
    wsid: Callable[[], str],
    ids: list[str],
    people: list[tuple[str, str, str, str, str]],
) -> Iterable[str]:
    r = g.r
    i = 0
    while i < n:
        cid = g.uid()
        first, last = g.person()
        zipc, city = r.choice(CITIES)
        email = f"{first.lower()}.{i}@example.com"
        phone = g.phone()
        if i % 500 == 5:
            email = f"kein-email-{i}"  # unparseable e-mail: must be quarantined
        w = wsid()
        ids.append(cid)
        people.append((w, f"{first} {last}", email, phone, city))
        yield (
            f"{cid}\t{w}\tkunde-{i}\t{first} {last}\t{email}\t{phone}\t"
            f"{r.choice(STREETS)} {r.randrange(1, 99)}\t{city}\t{zipc}\t"
            f"{'f' if r.random() < 0.05 else 't'}\t{g.ts()}\n"
        )
        i += 1
        if i < n and i % 50 == 1:
            # The same person entered twice: other spelling, other e-mail, same phone.
            ids.append(dup := g.uid())
            yield (
                f"{dup}\t{w}\tkunde-{i}\t{last.upper()}, {first}\t"
                f"{first[0].lower()}.{last.lower()}.{i}@example.org\t0{phone[4:].replace(' ', '')}"
                f"\t\\N\t{city}\t{zipc}\tt\t{g.ts()}\n"
            )
            i += 1


def _clients(
    g: _Gen, n: int, wsid: Callable[[], str], people: list[tuple[str, str, str, str, str]]
) -> Iterable[str]:
    r = g.r
    for i in range(n):
        if people and r.random() < 0.5:
            # A customer again in the CRM list: e-mail in capitals, phone formatted otherwise.
            w, name, email, phone, city = r.choice(people)
            name = name.replace("ü", "ue")
            email = email.upper()
            phone = phone.replace("+49 30 ", "030/")
        else:
            first, last = g.person()
            w, name, email, phone, city = (
                wsid(),
                f"{first} {last}",
                f"crm{i}@example.org",
                g.phone(),
                "Berlin",
            )
        notes = "Zahlt per Karte 4111 1111 1111 1111" if i % 100 == 0 else "Stammkunde"
        yield (
            f"{g.uid()}\t{w}\t{name}\t{email}\t{phone}\t{city}\t{notes}\t"
            f"{r.choice(['active', 'aktiv', 'inactive', 'VIP'])}\t"
            f"{r.randrange(0, 500000) / 100:.2f}\t{g.ts()}\n"
        )


def _vehicles(g: _Gen, n: int, customers: list[str]) -> Iterable[str]:
    r = g.r
    for i in range(n):
        make, models = r.choice(MAKES)
        vin = "WVW" + "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14))
        yield (
            f"{g.uid()}\t{r.choice(customers)}\tB-TS {i % 9999 + 1}\t{vin}\t{make}\t"
            f"{r.choice(models)}\t{r.randrange(2005, 2025)}\t{r.choice(FUELS)}\t"
            f"{r.randrange(1000, 250000)}\t2024-0{r.randrange(1, 10)}-15\t"
            f"2026-0{r.randrange(1, 10)}-01\t{'f' if r.random() < 0.05 else 't'}\n"
        )


def _fahrzeug(g: _Gen, i: int) -> str:
    r = g.r
    roll = r.random()
    if roll < 0.15:
        return "\\N"
    if roll < 0.25:
        return "{}"  # the app's `fahrzeug || {}`
    make, models = r.choice(MAKES)
    model = r.choice(models)
    year = r.randrange(2003, 2025)
    if roll < 0.35:
        return json.dumps(f"{make} {model} {year}", ensure_ascii=False)  # old VARCHAR generation
    return json.dumps(
        {
            "marke": make,
            "modell": model,
            "baujahr": year,
            "kennzeichen": f"B-LD {i % 9999 + 1}",
            "kraftstoff": r.choice(FUELS),
            "kilometerstand": r.randrange(1000, 300000),
        },
        ensure_ascii=False,
    )


def _chatverlauf(g: _Gen, start: int) -> str:
    r = g.r
    out = []
    for k in range(r.randrange(1, 4)):
        t = datetime.fromtimestamp(g.base + start + 40 * k, UTC)
        stamp = (
            t.strftime("%d.%m.%Y %H:%M")
            if r.random() < 0.2
            else t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        )  # text timestamps, two formats
        out.append({"role": "user", "content": r.choice(USER_LINES), "timestamp": stamp})
        out.append({"role": "assistant", "content": r.choice(BOT_LINES), "timestamp": stamp})
    return json.dumps(out, ensure_ascii=False)


def _leads(
    g: _Gen, n: int, ws: list[str], slugs: list[str], ghost: str, ids: list[str]
) -> Iterable[str]:
    r = g.r
    for i in range(n):
        lid = g.uid()
        ids.append(lid)
        k = r.randrange(len(ws))
        w, kunde = ws[k], slugs[k]
        if i % 300 == 1:
            w = ghost  # workshop gone, FK dropped
        elif i % 500 == 2:
            w, kunde = NULL, "anonymous"  # the app's `kunde_id || 'anonymous'`
        first, last = g.person()
        phone = "keine Angabe" if i % 500 == 3 else g.phone()
        email = f"lead{i}@example.com" if r.random() < 0.6 else "\\N"
        offset = r.randrange(0, 360 * 86400)
        created = g.ts(offset)
        anliegen = CARD_LINE if i % 200 == 4 else r.choice(USER_LINES)
        value = f"{r.randrange(5000, 250000) / 100:.2f}" if r.random() < 0.7 else "\\N"
        deleted = g.ts(offset + 86400) if i % 33 == 6 else NULL
        fz = _fahrzeug(g, i)
        yield (
            f"{lid}\t{kunde}\t{first} {last}\t{phone}\t{email}\t{_esc(anliegen)}\t"
            f"{fz if fz == NULL else _esc(fz)}\t{_esc(_chatverlauf(g, offset))}\t{created}\t"
            f"{r.choice(LEAD_STATUS)}\t{r.choice(['high', 'medium', 'low', 'hoch', 'normal'])}"
            f"\t{r.choice(['chatbot', 'website', 'phone', 'Telefon', 'whatsapp'])}\t"
            f"{'t' if r.random() < 0.6 else 'f'}\t{r.randrange(0, 100)}\t{value}\t{w}\t"
            f"{deleted}\t{created}\t{created}\n"
        )


def _services(conn: psycopg.Connection, g: _Gen, ws: list[str]) -> dict[str, int]:
    r = g.r
    cats = [(g.uid(), c) for c in sorted({c for _, c, _ in SERVICES})]
    cat_of = {c: u for u, c in cats}
    masters = [(g.uid(), name, cat_of[c], price) for name, c, price in SERVICES]
    out = {
        "service_categories": _copy(
            conn,
            "service_categories",
            "id, name, name_de, created_at",
            (f"{u}\t{c}\t{c}\t2024-05-01 09:00:00\n" for u, c in cats),
        ),
        "master_services": _copy(
            conn,
            "master_services",
            "id, category_id, service_name, service_name_de, typical_duration_minutes, created_at",
            (f"{u}\t{c}\t{n}\t{n}\t60\t2024-05-01 09:00:00\n" for u, n, c, _ in masters),
        ),
    }

    def customer_services() -> Iterable[str]:
        for w in ws:
            for name, cat, price in SERVICES:
                p = f"{price * r.uniform(0.8, 1.3):.2f}" if r.random() > 0.05 else "\\N"
                yield (
                    f"{g.uid()}\t{w}\t{name}\t{p}\t{r.choice([30, 60, 90, 120])}\t{cat}\t"
                    f"{'f' if r.random() < 0.05 else 't'}\t{g.ts()}\n"
                )

    def workshop_services() -> Iterable[str]:
        for w in ws:
            for mid, _name, _c, price in r.sample(masters, 4):
                custom = "Sonderpreis Inspektion" if r.random() < 0.1 else "\\N"
                lo = price * r.uniform(0.8, 1.0)
                # naive timestamps (TIMESTAMP without time zone)
                naive = datetime.fromtimestamp(g.base + r.randrange(0, 9_000_000), UTC)
                yield (
                    f"{g.uid()}\t{w}\t{mid}\t{custom}\t{lo:.2f}\t{lo * 1.2:.2f}\t"
                    f"{naive:%Y-%m-%d %H:%M:%S}\t{naive:%Y-%m-%d %H:%M:%S}\n"
                )

    out["customer_services"] = _copy(
        conn,
        "customer_services",
        "id, workshop_id, name, price, duration_minutes, category, is_active, created_at",
        customer_services(),
    )
    out["workshop_services"] = _copy(
        conn,
        "workshop_services",
        "id, workshop_id, master_service_id, custom_name, price_min, "
        "price_max, created_at, updated_at",
        workshop_services(),
    )
    return out


def _appointments(
    g: _Gen, n: int, wsid: Callable[[], str], customers: list[str], leads: list[str]
) -> Iterable[str]:
    r = g.r
    for i in range(n):
        cust = g.uid() if i % 400 == 0 else r.choice(customers)  # orphan customer id
        lead = r.choice(leads) if leads and r.random() < 0.3 else "\\N"
        notes = "Kunde zahlt mit 4111 1111 1111 1111" if r.random() < 0.005 else "Ersatzwagen"
        yield (
            f"{g.uid()}\t{wsid()}\t{cust}\t{lead}\t{g.ts()}\t{r.choice([30, 60, 120])}\t"
            f"{r.choice(SERVICES)[0]}\t{r.choice(APPT_STATUS)}\t{notes}\t{g.ts()}\n"
        )


def _sessions(
    g: _Gen,
    n: int,
    split: tuple[int, int],
    ws: list[str],
    slugs: list[str],
    out: list[tuple[str, str, int]],
) -> Iterable[str]:
    """Chat sessions; `split` = (messages per session, how many sessions get one more)."""
    r = g.r
    per, extra = split
    for i in range(n):
        k = r.randrange(len(ws))
        sid = g.uid()
        start = r.randrange(0, 360 * 86400)
        count = per + (1 if i < extra else 0)
        out.append((sid, f"ck_live_{slugs[k]}", start))
        yield (
            f"{sid}\t{ws[k]}\tsess_{i:07d}\tck_live_{slugs[k]}\tv{r.getrandbits(40):x}\t"
            f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}\t{count}\t"
            f"{g.ts(start)}\t{g.ts(start + 40 * count)}\t"
            f"{r.choice(['active', 'closed', 'closed', 'transferred'])}\t{g.ts(start)}\n"
        )


def _messages(
    g: _Gen, split: tuple[int, int], sessions: list[tuple[str, str, int]]
) -> Iterable[str]:
    r = g.r
    per, extra = split
    user = [_esc(x) for x in USER_LINES]
    bot = [_esc(x) for x in BOT_LINES]
    base = g.base
    fmt = "%Y-%m-%d %H:%M:%S+00"
    for i, (sid, key, start) in enumerate(sessions):
        count = per + (1 if i < extra else 0)
        for k in range(count):
            stamp = datetime.fromtimestamp(base + start + 40 * k, UTC).strftime(fmt)
            if k % 2 == 0:
                text = CARD_LINE if (i + k) % 997 == 0 else r.choice(user)
                yield (
                    f"{g.uid()}\t{sid}\t{text}\tuser\t\\N\t\\N\t{r.choice(INTENTS)}\t{key}\t"
                    f"{stamp}\n"
                )
            else:
                yield (
                    f"{g.uid()}\t{sid}\t{r.choice(bot)}\tassistant\tgpt-4o-mini\t"
                    f"{r.randrange(40, 400)}\t\\N\t{key}\t{stamp}\n"
                )
