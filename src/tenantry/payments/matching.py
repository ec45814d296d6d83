"""Scoring notices against open bookings, and assigning them one-to-one.

Each piece of evidence adds a weight (a log-odds contribution, in the manner of Fellegi and
Sunter): the amount against the parts of the booking's price, the date, the payer's name
against the customer's, a booking code or the customer's phone or e-mail in the message, and
payers confirmed earlier for the customer. The sum, less an offset, goes through the logistic
function: a score in [0, 1]. A notice is matched automatically only when its best booking
scores at least the threshold, leads the runner-up by the margin, the notice is verified, and
the booking can still take the money once every better pair of the batch has been placed.

Pure: no I/O, no personal data in reasons (features and weights only).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tenantry.config import Settings
from tenantry.domain.bookings import Ledger, kind_of_payment
from tenantry.models.enums import MatchedPart
from tenantry.payments.names import NameAgreement, agreement, mentions
from tenantry.payments.notices import Notice

__all__ = [
    "Clues",
    "Decision",
    "Fee",
    "Frequencies",
    "OpenBooking",
    "Person",
    "Policy",
    "Reason",
    "Scored",
    "amount_weight",
    "assign",
    "mention_weight",
    "most_received",
    "rank",
    "score",
]


@dataclass(frozen=True)
class Fee:
    """A provider's fee: a rate in basis points and a fixed part in cents."""

    rate_bp: int
    fixed_cents: int

    def of(self, cents: int) -> int:
        return round(cents * self.rate_bp / 10_000) + self.fixed_cents


# Published fees of card and wallet payments; a notice may report the amount net of them (what
# arrived) or gross (the payer covered the fee).
DEFAULT_FEES: dict[str, tuple[Fee, ...]] = {
    "stripe": (Fee(290, 30), Fee(150, 25), Fee(250, 25)),
    "paypal": (Fee(349, 49), Fee(299, 49), Fee(249, 35)),
    "venmo": (Fee(190, 10),),
}


@dataclass(frozen=True)
class Policy:
    """The matcher's knobs (documented in docs/payments.md, set through TENANTRY_PAYMENT_*)."""

    threshold: float = 0.9
    margin: float = 1.5  # log-odds: the best booking about 4.5 times likelier than the runner-up
    days_before: int = 2  # a payment may precede the booking's creation by this much
    days_after: int = 60  # and follow its start by this much
    offset: float = 2.5
    fees: dict[str, tuple[Fee, ...]] = field(default_factory=lambda: dict(DEFAULT_FEES))

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Policy:
        """The policy the settings name (`TENANTRY_PAYMENT_MATCH_*`), with overrides."""
        chosen: dict[str, Any] = {
            "threshold": settings.payment_match_threshold,
            "margin": settings.payment_match_margin,
            "days_after": settings.payment_match_days_after,
        }
        chosen.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**chosen)


@dataclass(frozen=True)
class Person:
    first_name: str | None
    last_name: str | None


@dataclass
class OpenBooking:
    """A booking that can still take money, as the matcher sees it."""

    id: uuid.UUID
    customer_id: uuid.UUID
    subject_id: uuid.UUID | None
    code: str
    total_cents: int
    deposit_cents: int
    paid_cents: int
    currency: str
    starts_at: datetime
    created_at: datetime
    people: tuple[Person, ...] = ()  # the customer, and the lead who booked if another person

    @property
    def open_cents(self) -> int:
        return self.total_cents - self.paid_cents

    def __post_init__(self) -> None:
        self._parts = self._find_parts()

    def parts(self) -> list[tuple[MatchedPart, int]]:
        """The amounts a single payment would plausibly settle: deposit, balance or all."""
        return self._parts

    def _find_parts(self) -> list[tuple[MatchedPart, int]]:
        paid, deposit, total = self.paid_cents, self.deposit_cents, self.total_cents
        found: list[tuple[MatchedPart, int]] = []
        if paid < deposit:
            found.append((MatchedPart.DEPOSIT, deposit - paid))
        if paid == 0:
            found.append((MatchedPart.FULL, total))
        elif total > paid:
            found.append((MatchedPart.BALANCE, total - paid))
        if paid < deposit < total and paid == 0:
            found.append((MatchedPart.BALANCE, total - deposit))
        return [(part, cents) for part, cents in found if cents > 0]


@dataclass(frozen=True)
class Clues:
    """What the store found about a notice's payer outside the booking itself."""

    subjects: frozenset[uuid.UUID] = frozenset()  # whose e-mail or phone the payer used
    alias_customers: frozenset[uuid.UUID] = frozenset()  # who confirmed this payer before
    codes: frozenset[str] = frozenset()  # booking codes written in the memo or reference


@dataclass(frozen=True)
class Reason:
    feature: str
    detail: str
    weight: float

    def as_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "detail": self.detail, "weight": self.weight}


@dataclass(frozen=True)
class Scored:
    booking: OpenBooking
    score: float
    logit: float
    part: MatchedPart
    apply_cents: int  # what the booking's ledger receives (the part, where fees were involved)
    reasons: tuple[Reason, ...]


# Roughly ln(P(evidence | the right booking) / P(evidence | another booking)).
# With a surname, the weight of how rare it is is added (see `score`).
_NAME_WEIGHT = {
    NameAgreement.FULL: (4.5, "full name"),
    NameAgreement.INITIAL_AND_SURNAME: (2.5, "initial and surname"),
    NameAgreement.SURNAME_ONLY: (0.0, "surname only (a relative?)"),
    NameAgreement.FIRST_ONLY: (-1.0, "first name only"),
    NameAgreement.NONE: (-2.0, "another person"),
}
# A booking code or the customer's own e-mail or phone is next to proof; a confirmed payer is
# strong; a surname in the memo is weighed by its rarity (this is its weight without that).
_CODE, _CONTACT, _ALIAS, _MENTION = 12.0, 8.0, 5.0, 3.0
_OTHER_NAMED = -2.5
# How often a payment is for exactly a part of its booking's price; how often a payer who is
# not the customer names the customer in the memo.
_EXACT_SHARE, _MENTION_SHARE = 0.7, 0.3
# Payers come from the whole population, not only from the open bookings: no surname is
# taken to be rarer than this share of people.
_COMMONEST = 0.002
# How often a payer shares only the customer's surname (a partner or parent paying).
_RELATIVE_SHARE = 0.1


def most_received(amount_cents: int, fee_cents: int, provider: str) -> int:
    """The most a booking can be credited for a notice: its amount, the fee it reports, and
    the largest fee the provider might have kept on top (a reviewer's match is capped by it)."""
    fees = DEFAULT_FEES.get(provider, ())
    gross = amount_cents + fee_cents
    kept = max(
        (round(gross * f.rate_bp / (10_000 - f.rate_bp)) + f.fixed_cents + 1 for f in fees),
        default=0,
    )
    return gross + kept


def mention_weight(sharing: int, population: int, share: float = 0.3) -> float:
    """The weight of evidence naming a surname that `sharing` of `population` open bookings
    carry, where the right booking shows that evidence with probability `share`."""
    chance = max(_COMMONEST, (sharing + 0.5) / (population + 50))
    return min(5.0, max(0.5, math.log(share / chance)))


def amount_weight(sharing: int, population: int) -> float:
    """The weight of an exact amount shared by `sharing` of `population` open bookings: an
    amount every other booking has says little, one no other booking has says a lot."""
    # Smoothed: a few open bookings do not make every amount rare (payments for no open
    # booking arrive too).
    chance = (sharing + 0.5) / (population + 50)
    return min(5.0, max(0.5, math.log(_EXACT_SHARE / chance)))


@dataclass(frozen=True)
class _Fit:
    reason: Reason
    part: MatchedPart
    cents: int  # what the ledger receives


class Frequencies(Protocol):
    """How common an amount or a surname is among the open bookings (for weights)."""

    def amount(self, currency: str, cents: int) -> float:
        """The weight of an exact payment of `cents` (see `amount_weight`)."""
        ...

    def surname(self, last_name: str | None, share: float = ...) -> float:
        """The weight of evidence naming this surname, which the right booking shows with
        probability `share` (see `mention_weight`)."""
        ...


class _Flat:
    def amount(self, currency: str, cents: int) -> float:
        return 2.5

    def surname(self, last_name: str | None, share: float = 0.3) -> float:
        return _MENTION if share >= _MENTION_SHARE else 1.5


_FLAT = _Flat()


def _amount(
    notice: Notice, booking: OpenBooking, policy: Policy, stats: Frequencies
) -> _Fit | None:
    """How the amount fits the booking best; None where it cannot (overpayment, currency)."""
    if notice.currency != booking.currency:
        return None
    fits = _amount_fits(notice, booking, policy, stats)
    return max(fits, key=lambda f: f.reason.weight) if fits else None


def _amount_fits(
    notice: Notice, booking: OpenBooking, policy: Policy, stats: Frequencies
) -> list[_Fit]:
    a = notice.amount_cents
    fits: list[_Fit] = []
    for part, cents in booking.parts():
        weight = stats.amount(booking.currency, cents)
        if a == cents:
            fits.append(_Fit(Reason("amount", f"{part.value} exact", weight), part, cents))
            continue
        if notice.fee_cents and a + notice.fee_cents == cents:
            why = f"{part.value} exact before the fee the provider reports"
            fits.append(_Fit(Reason("amount", why, weight), part, cents))
            continue
        for fee in policy.fees.get(notice.provider, ()):
            # The ledger receives the part: the customer paid it; the fee is the seller's cost.
            if abs(a - (cents - fee.of(cents))) <= 1:
                why = f"{part.value} net of the provider fee"
                fits.append(_Fit(Reason("amount", why, weight - 0.5), part, cents))
            elif abs(a - (cents + fee.of(cents))) <= 1:
                why = f"{part.value} with the fee added"
                fits.append(_Fit(Reason("amount", why, weight - 0.5), part, cents))
        if abs(2 * a - cents) <= 1:
            why = f"half of the {part.value} (a shared payment)"
            fits.append(_Fit(Reason("amount", why, weight - 1.7), _part_of(booking, a), a))
    if not fits and a <= booking.open_cents:
        fits.append(
            _Fit(Reason("amount", "part of the open balance", -2.5), _part_of(booking, a), a)
        )
    return fits


def _part_of(booking: OpenBooking, cents: int) -> MatchedPart:
    """The part an arbitrary amount counts towards (see `kind_of_payment`)."""
    ledger = Ledger(booking.total_cents, booking.deposit_cents, booking.paid_cents)
    return MatchedPart(kind_of_payment(ledger, cents).value)


def score(
    notice: Notice,
    booking: OpenBooking,
    clues: Clues,
    policy: Policy,
    stats: Frequencies = _FLAT,
) -> Scored | None:
    """The booking's score for this notice, or None when it cannot take the payment.

    `stats` weighs exact amounts and surnames by how common they are among the open bookings;
    without it every exact amount weighs 2.5 and every surname named in a memo 3.0.
    """
    fit = _amount(notice, booking, policy, stats)
    if fit is None:
        return None
    reasons = [fit.reason]
    when = notice.occurred_at
    earliest = booking.created_at - timedelta(days=policy.days_before)
    latest = booking.starts_at + timedelta(days=policy.days_after)
    if earliest <= when <= latest:
        reasons.append(Reason("date", "within the booking's window", 0.5))
        if fit.part is not MatchedPart.BALANCE:
            # A deposit (or the whole price) is paid when the booking is made.
            since = when - booking.created_at
            if timedelta(days=-1) <= since <= timedelta(days=3):
                reasons.append(Reason("date", "paid the days it was booked", 2.0))
            elif since <= timedelta(days=14):
                reasons.append(Reason("date", "paid within two weeks of booking", 0.5))
    else:
        # Long before the booking was made or long after the event: hardly this booking's.
        reasons.append(Reason("date", "outside the booking's window", -6.0))
    if booking.code in clues.codes:
        reasons.append(Reason("reference", "booking code in the message", _CODE))
    if booking.subject_id is not None and booking.subject_id in clues.subjects:
        reasons.append(Reason("contact", "payer's e-mail or phone is the customer's", _CONTACT))
    if booking.customer_id in clues.alias_customers:
        reasons.append(Reason("payer", "payer confirmed earlier for this customer", _ALIAS))
    if notice.payer_name:
        best = max(
            (agreement(notice.payer_name, p.first_name, p.last_name) for p in booking.people),
            default=NameAgreement.NONE,
        )
        weight, detail = _NAME_WEIGHT[best]
        if best >= NameAgreement.SURNAME_ONLY:
            # The surname tells as much as it is rare among the open bookings (a relative
            # paying); the first name, or its initial, adds to that.
            weight += max(stats.surname(p.last_name, _RELATIVE_SHARE) for p in booking.people)
        reasons.append(Reason("name", detail, weight))
        named = [p for p in booking.people if mentions(notice.memo, p.last_name)]
        if best < NameAgreement.SURNAME_ONLY and named:
            weight = max(stats.surname(p.last_name, _MENTION_SHARE) for p in named)
            reasons.append(Reason("memo", "names the customer", weight))
    logit = sum(r.weight for r in reasons) - policy.offset
    chance = 1 / (1 + math.exp(-logit))
    return Scored(booking, chance, logit, fit.part, fit.cents, tuple(reasons))


@dataclass(frozen=True)
class Decision:
    """What to do with one notice of the batch."""

    matched: bool
    best: Scored | None
    runner_up: float | None
    reasons: tuple[Reason, ...]

    def reasons_json(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.reasons]


def _review(best: Scored | None, runner: float | None, why: str) -> Decision:
    own = best.reasons if best else ()
    return Decision(False, best, runner, (*own, Reason("decision", why, 0.0)))


@dataclass
class _Room:
    """What a booking can still take during the batch."""

    open_cents: int
    deposit_left: int
    takers: list[tuple[int, Scored]] = field(default_factory=list)


def assign(
    candidates: Sequence[Sequence[Scored]], trusted: Sequence[bool], policy: Policy
) -> list[Decision]:
    """Decide every notice of a batch at once: best pairs first, never first-come.

    A notice goes to its best booking only with a score at or above the threshold and a lead
    of at least the margin over its runner-up, in log-odds (scores near 1 all look alike; their
    log-odds still tell a full name from a namesake). Pairs are placed in descending score; one that
    no longer fits the booking's open balance goes to review, and so does the pair that took
    the money when the loser came within the margin of it (neither is clearly the payment).
    """
    decisions: list[Decision | None] = [None] * len(candidates)
    tops: list[tuple[float, int, Scored, float | None]] = []
    for i, scored in enumerate(candidates):
        ranked = sorted(scored, key=lambda s: s.logit, reverse=True)
        if not ranked:
            decisions[i] = _review(None, None, "no open booking fits")
            continue
        best = ranked[0]
        second = ranked[1] if len(ranked) > 1 else None
        runner = second.score if second else None
        if not trusted[i]:
            decisions[i] = _review(best, runner, "origin not verified: never matched automatically")
        elif best.score < policy.threshold:
            decisions[i] = _review(best, runner, "score below the threshold")
        elif second is not None and best.logit - second.logit < policy.margin:
            decisions[i] = _review(best, runner, "runner-up within the margin")
        else:
            tops.append((best.logit, i, best, runner))
    rooms: dict[uuid.UUID, _Room] = {}
    tops.sort(key=lambda t: (-t[0], t[1]))
    for _score, i, best, runner in tops:
        b = best.booking
        room = rooms.setdefault(b.id, _Room(b.open_cents, max(0, b.deposit_cents - b.paid_cents)))
        if best.apply_cents > room.open_cents:
            decisions[i] = _review(best, runner, "booking already settled by a better notice")
            for j, taker in room.takers:
                if taker.logit - best.logit < policy.margin:
                    decisions[j] = _review(taker, runner, "contested by another notice")
            continue
        room.open_cents -= best.apply_cents
        room.takers.append((i, best))
        decisions[i] = Decision(True, best, runner, best.reasons)
    return [d if d is not None else _review(None, None, "undecided") for d in decisions]


def rank(
    notice: Notice,
    bookings: Iterable[OpenBooking],
    clues: Clues,
    policy: Policy,
    stats: Frequencies = _FLAT,
) -> list[Scored]:
    """Every booking's score for the notice, best first, those that cannot take it left out."""
    found = [s for b in bookings if (s := score(notice, b, clues, policy, stats)) is not None]
    if any(r.feature == "memo" for s in found for r in s.reasons):
        # A memo naming one customer speaks against the bookings of everyone else.
        found = [s if _names_customer(s) else _penalised(s) for s in found]
    return sorted(found, key=lambda s: s.logit, reverse=True)


def _names_customer(scored: Scored) -> bool:
    return any(r.feature == "memo" for r in scored.reasons)


def _penalised(scored: Scored) -> Scored:
    reason = Reason("memo", "names another customer", _OTHER_NAMED)
    logit = scored.logit + reason.weight
    chance = 1 / (1 + math.exp(-logit))
    return Scored(scored.booking, chance, logit, scored.part, scored.apply_cents,
                  (*scored.reasons, reason))  # fmt: skip
