"""The request guard's byte scans: JSON depth and unstorable `\\u` escapes, without parsing."""

from __future__ import annotations

import json

from tenantry.api.guard import json_too_deep, unstorable_escape, unstorable_text


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b"[" * 64 + b"]" * 64, 64)
    assert json_too_deep(b"[" * 65 + b"]" * 65, 64)
    assert json_too_deep(b'{"a":' * 65 + b"1" + b"}" * 65, 64)
    # Brackets in strings (escaped quotes included) do not nest anything.
    text = json.dumps({"note": '[[[{"\\"' * 100}).encode()
    assert not json_too_deep(text, 64)
    # Many siblings are wide, not deep.
    assert not json_too_deep(json.dumps([[1]] * 500).encode(), 64)


def test_nul_and_lone_surrogates_are_unstorable_but_pairs_and_escaped_backslashes_are_not() -> None:
    def body(value: str) -> bytes:
        return json.dumps({"name": value}).encode()  # non-ASCII as \u escapes

    assert unstorable_escape(body("K\x00ln"))
    assert unstorable_escape(body("K\ud800ln"))  # a high surrogate alone
    assert unstorable_escape(body("K\udc00ln"))  # a low surrogate alone
    assert unstorable_escape(body("\ud800"))  # at the end of the string
    assert unstorable_escape(body("\ud800\ud800\udc00"))  # two highs, the first unpaired
    assert unstorable_escape(b'{"a": "\\uD800\\n"}')  # upper-case hex, followed by another escape
    assert not unstorable_escape(body("Caf\u00e9 \U0001f600"))  # a pair: one character
    assert not unstorable_escape(b'{"a": "\\\\u0000"}')  # a backslash, then the text u0000
    assert not unstorable_escape(body("plain text"))


def test_unstorable_text_in_decoded_strings() -> None:
    assert unstorable_text("a\x00b")
    assert unstorable_text("a\udfffb")
    assert not unstorable_text("Caf\u00e9 \U0001f600")
