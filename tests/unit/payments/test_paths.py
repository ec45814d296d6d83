"""Reading paths: one file, a Maildir, a folder of messages and statements, in sorted order,
with origins relative to the argument; unreadable or oversized files become rejections."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tenantry.demo import payment_mail as pm
from tenantry.payments.notices import Notice, Rejected, TrustLevel
from tenantry.payments.sources import paths, read_path
from tenantry.payments.trust import DkimVerifier


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _samples(payment: pm.SamplePayment, key: pm.TestKey) -> list[bytes]:
    return [
        pm.signed_mail(
            "venmo", dataclasses.replace(payment, transaction_id=f"40000000000000{n}"), key
        )
        for n in range(3)
    ]


def test_a_maildir_is_read_from_cur_and_new_in_sorted_order(
    tmp_path: Path, payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    one, two, three = _samples(payment, test_key)
    _write(tmp_path / "cur" / "1700000002.M2P1.host:2,S", two)
    _write(tmp_path / "new" / "1700000003.M3P1.host", three)
    _write(tmp_path / "cur" / "1700000001.M1P1.host:2,S", one)
    _write(tmp_path / "tmp" / "1700000009.partial", b"half a message")
    (tmp_path / "cur" / ".hidden").write_bytes(b"x")
    results = list(read_path(tmp_path, verifier=verifier))
    assert [r.origin for r in results] == [
        "cur/1700000001.M1P1.host:2,S",
        "cur/1700000002.M2P1.host:2,S",
        "new/1700000003.M3P1.host",
    ]
    assert all(isinstance(r, Notice) and r.trust.level is TrustLevel.VERIFIED for r in results)
    assert [r.transaction_id for r in results if isinstance(r, Notice)] == [
        "400000000000000",
        "400000000000001",
        "400000000000002",
    ]


def test_a_folder_mixes_messages_statements_and_nested_maildirs(
    tmp_path: Path, payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    one, two, three = _samples(payment, test_key)
    entries = [
        pm.StatementEntry(5_000, date(2026, 3, 2), "R1", "Erika Mustermann", "BK-1"),
        pm.StatementEntry(-700, date(2026, 3, 2), "R2", "Shop", "x"),
    ]
    _write(tmp_path / "b.eml", two)
    _write(tmp_path / "a.eml", one)
    _write(tmp_path / "statements" / "march.xml", pm.camt053(entries))
    _write(tmp_path / "statements" / "march.sta", pm.mt940(entries))
    _write(tmp_path / "statements" / "export.txt", pm.mt940(entries[:1]))
    _write(tmp_path / "inbox" / "cur" / "m1:2,S", three)
    _write(tmp_path / "notes.pdf", b"%PDF-1.4")
    results = list(read_path(tmp_path, verifier=verifier))
    assert [r.origin for r in results] == [
        "a.eml",
        "b.eml",
        "inbox/cur/m1:2,S",
        "statements/export.txt#1",
        "statements/march.sta#1",
        "statements/march.sta#2",
        "statements/march.xml#1",
        "statements/march.xml#2",
    ]
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Notice"] * 5 + ["Rejected", "Notice", "Rejected"]


def test_a_single_file_has_its_name_as_origin(
    tmp_path: Path, payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    path = _write(tmp_path / "deep" / "payment.eml", _samples(payment, test_key)[0])
    (result,) = list(read_path(path, verifier=verifier))
    assert isinstance(result, Notice)
    assert result.origin == "payment.eml"


def test_duplicates_produce_identical_digests(
    tmp_path: Path, payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = _samples(payment, test_key)[0]
    _write(tmp_path / "first.eml", raw)
    _write(tmp_path / "again.eml", raw)
    first, again = list(read_path(tmp_path, verifier=verifier))
    assert isinstance(first, Notice) and isinstance(again, Notice)
    assert first.sha256 == again.sha256
    assert first.transaction_id == again.transaction_id
    assert first.origin != again.origin


def test_oversized_missing_and_unreadable_files_are_rejected(
    tmp_path: Path, verifier: DkimVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "MAX_FILE_BYTES", 1_000)
    _write(tmp_path / "big.eml", b"From: venmo@venmo.com\r\n\r\n" + b"x" * 2_000)
    locked = _write(tmp_path / "locked.eml", b"From: venmo@venmo.com\r\n\r\n")
    locked.chmod(0)
    try:
        results = list(read_path(tmp_path, verifier=verifier))
    finally:
        locked.chmod(0o600)
    reasons = {r.origin: r.reason for r in results if isinstance(r, Rejected)}
    assert reasons["big.eml"] == "file larger than 25 MB"
    if os.geteuid() != 0:  # root reads any file
        assert reasons["locked.eml"] == "file cannot be read"
    (missing,) = list(read_path(tmp_path / "nope", verifier=verifier))
    assert isinstance(missing, Rejected)


def test_garbage_files_are_rejected_not_raised(tmp_path: Path, verifier: DkimVerifier) -> None:
    _write(tmp_path / "a.eml", os.urandom(4096))
    _write(tmp_path / "b.xml", b"<?xml version='1.0'?><camt.053></camt.053>")
    _write(tmp_path / "c.sta", b":20:X\n:25:1\n:61:garbage\n")
    results = list(read_path(tmp_path, verifier=verifier))
    assert len(results) == 3
    assert all(isinstance(r, Rejected) for r in results)


def test_devices_and_pipes_are_refused_without_reading(
    tmp_path: Path, verifier: DkimVerifier
) -> None:
    (device,) = list(read_path(Path("/dev/zero"), verifier=verifier))
    assert isinstance(device, Rejected)
    assert device.reason == "not a regular file"
    pipe = tmp_path / "inbox.eml"
    os.mkfifo(pipe)
    (result,) = list(read_path(tmp_path, verifier=verifier))
    assert isinstance(result, Rejected)
    assert result.reason == "not a regular file"


def test_a_large_folder_read_by_worker_processes_gives_the_same_notices_in_order(
    tmp_path: Path, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    folder = tmp_path / "mail" / "new"
    folder.mkdir(parents=True)
    for i in range(450):
        when = datetime(2026, 3, 3, tzinfo=UTC)
        payment = pm.SamplePayment(1_000 + i, "Erika Mustermann", when, f"TX{i:06d}")
        (folder / f"{i:04d}.eml").write_bytes(pm.signed_mail("venmo", payment, test_key))
    alone = list(read_path(tmp_path / "mail", verifier=verifier))
    pooled = list(read_path(tmp_path / "mail", verifier=verifier, workers=2))
    assert [(n.origin, n.sha256, n.trust.level) for n in pooled if isinstance(n, Notice)] == [
        (n.origin, n.sha256, n.trust.level) for n in alone if isinstance(n, Notice)
    ]
    assert len(pooled) == 450 and all(isinstance(n, Notice) and n.trust.verified for n in pooled)
