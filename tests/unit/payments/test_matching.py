"""The matcher's rules on their own: names, amounts, margins, one-to-one assignment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tenantry.models.enums import MatchedPart
from tenantry.payments.matching import (
    Clues,
    OpenBooking,
    Person,
    Policy,
    amount_weight,
    assign,
    most_received,
    rank,
)
from tenantry.payments.names import NameAgreement, agreement, name_key
from tenantry.payments.notices import Notice, Source, Trust, TrustLevel

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def _booking(first: str, last: str, total: int = 80_000, deposit: int = 20_000, paid: int = 0):
    booking_id = uuid.uuid4()
    return OpenBooking(
        id=booking_id,
        customer_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        code=booking_id.hex[-8:].upper(),
        total_cents=total,
        deposit_cents=deposit,
        paid_cents=paid,
        currency="USD",
        starts_at=NOW + timedelta(days=30),
        created_at=NOW - timedelta(days=1),
        people=(Person(first, last),),
    )


def _notice(amount: int, payer: str | None, *, memo: str | None = None, provider: str = "zelle",
            trusted: bool = True) -> Notice:  # fmt: skip
    level = TrustLevel.VERIFIED if trusted else TrustLevel.FORGED
    return Notice(
        source=Source.EMAIL,
        provider=provider,
        transaction_id=uuid.uuid4().hex,
        amount_cents=amount,
        currency="USD",
        occurred_at=NOW,
        raw=b"x",
        trust=Trust(level, "test"),
        payer_name=payer,
        memo=memo,
    )


@pytest.mark.parametrize(
    ("payer", "expected"),
    [
        ("Erika Mustermann", NameAgreement.FULL),
        ("MUSTERMANN, ERIKA", NameAgreement.FULL),
        ("E. Mustermann", NameAgreement.INITIAL_AND_SURNAME),
        ("Hans Mustermann", NameAgreement.SURNAME_ONLY),
        ("Erika Beispiel", NameAgreement.FIRST_ONLY),
        ("Jordan Rivera", NameAgreement.NONE),
    ],
)
def test_names_agree_in_any_order_and_case(payer: str, expected: NameAgreement) -> None:
    assert agreement(payer, "Erika", "Mustermann") is expected


def test_umlauts_nicknames_and_titles_meet_their_spellings() -> None:
    assert agreement("Juergen MUELLER", "Jürgen", "Müller") is NameAgreement.FULL
    assert agreement("Bob Smith", "Robert", "Smith") is NameAgreement.FULL
    assert agreement("Dr. Sepp Huber", "Josef", "Huber") is NameAgreement.FULL
    assert agreement("Erica Mustermann", "Erika", "Mustermann") is NameAgreement.SURNAME_ONLY
    assert name_key("MUSTERMANN, Erika") == name_key("erika mustermann")


def test_an_amount_every_booking_shares_says_less_than_a_rare_one() -> None:
    assert amount_weight(500, 2000) < amount_weight(2, 2000) <= 5.0


def test_the_right_namesake_wins_by_amount_and_a_friend_needs_a_hint() -> None:
    erika = _booking("Erika", "Mustermann")
    other = _booking("Max", "Beispiel")
    ranked = rank(_notice(20_000, "Erika Mustermann"), [erika, other], Clues(), Policy())
    assert ranked[0].booking is erika and ranked[0].part is MatchedPart.DEPOSIT
    friend = rank(_notice(20_000, "Jordan Rivera"), [erika, other], Clues(), Policy())
    [decision] = assign([friend], [True], Policy())
    assert not decision.matched
    coded = rank(
        _notice(20_000, "Jordan Rivera"),
        [erika, other],
        Clues(codes=frozenset({erika.code})),
        Policy(),
    )
    [decision] = assign([coded], [True], Policy())
    assert decision.matched and decision.best is not None and decision.best.booking is erika


def test_more_than_the_open_balance_rules_a_booking_out() -> None:
    small = _booking("Erika", "Mustermann", total=10_000, deposit=0)
    assert rank(_notice(20_000, "Erika Mustermann"), [small], Clues(), Policy()) == []


def test_a_fee_kept_by_the_provider_records_the_whole_part() -> None:
    erika = _booking("Erika", "Mustermann")
    net = 20_000 - (round(20_000 * 290 / 10_000) + 30)
    [best] = rank(_notice(net, "Erika Mustermann", provider="stripe"), [erika], Clues(), Policy())
    assert (best.part, best.apply_cents) == (MatchedPart.DEPOSIT, 20_000)


def test_assignment_is_one_to_one_across_the_batch_and_never_trusts_the_unverified() -> None:
    erika = _booking("Erika", "Mustermann", total=20_000, deposit=0)
    notices = [_notice(20_000, "Erika Mustermann"), _notice(20_000, "Erika Mustermann")]
    ranked = [rank(n, [erika], Clues(), Policy()) for n in notices]
    decisions = assign(ranked, [True, True], Policy())
    # Both claim the whole balance equally: neither is clearly the payment.
    assert [d.matched for d in decisions] == [False, False]
    [forged] = assign([ranked[0]], [False], Policy())
    assert not forged.matched and "not verified" in forged.reasons[-1].detail


def test_deposit_and_balance_of_one_booking_both_fit_in_one_batch() -> None:
    erika = _booking("Erika", "Mustermann")
    notices = [_notice(20_000, "Erika Mustermann"), _notice(60_000, "Erika Mustermann")]
    ranked = [rank(n, [erika], Clues(), Policy()) for n in notices]
    assert [d.matched for d in assign(ranked, [True, True], Policy())] == [True, True]


def test_a_date_far_from_the_booking_leaves_even_a_full_name_to_review() -> None:
    erika = _booking("Erika", "Mustermann")
    late = _notice(20_000, "Erika Mustermann")
    late = Notice(**{**late.__dict__, "occurred_at": NOW + timedelta(days=3000)})
    [decision] = assign([rank(late, [erika], Clues(), Policy())], [True], Policy())
    assert not decision.matched


def test_a_reviewer_may_credit_at_most_the_amount_with_a_provider_fee() -> None:
    assert most_received(10_000, 0, "zelle") == 10_000
    assert 10_000 < most_received(10_000, 0, "stripe") < 10_500
