from __future__ import annotations

import pytest

from centinela.errors import TwinError
from centinela.twin.ids import MAX_ID_LENGTH, ThingId, is_valid_namespace, namespace_of, validate_thing_id


@pytest.mark.parametrize(
    ("text", "namespace", "name"),
    [
        ("org.eclipse.ditto:fancy-thing_53", "org.eclipse.ditto", "fancy-thing_53"),
        ("com.some-domain:smart-coffee-1", "com.some-domain", "smart-coffee-1"),
        (":no-namespace", "", "no-namespace"),
        ("acme:foo bar", "acme", "foo bar"),
        ("acme:foo%2Fbar+x", "acme", "foo%2Fbar+x"),
        ("acme:with:colons", "acme", "with:colons"),
        ("foo.bar_42:w", "foo.bar_42", "w"),
    ],
)
def test_valid_ids_split_into_namespace_and_name(text: str, namespace: str, name: str) -> None:
    parsed = ThingId.parse(text)
    assert (parsed.namespace, parsed.name) == (namespace, name)
    assert str(parsed) == text
    assert validate_thing_id(text) == text
    assert namespace_of(text) == namespace


@pytest.mark.parametrize(
    "text",
    [
        "no-colon",
        "acme:",
        "acme:a/b",
        "acme:tab\there",
        "1acme:x",
        "acme.:x",
        "acme..b:x",
        "acme.-b:x",
        "ac me:x",
        "acme:\x7f",
        "acme:é",
    ],
)
def test_invalid_ids_are_rejected_with_dittos_error(text: str) -> None:
    with pytest.raises(TwinError) as info:
        ThingId.parse(text)
    assert info.value.status == 400
    assert info.value.error == "things:id.invalid"
    assert repr(text)[1:-1] in info.value.message or text in info.value.message


def test_length_limit_is_256_characters_including_namespace() -> None:
    prefix = "acme:"
    ok = prefix + "x" * (MAX_ID_LENGTH - len(prefix))
    assert validate_thing_id(ok) == ok
    with pytest.raises(TwinError) as info:
        validate_thing_id(ok + "x")
    assert "257" in info.value.message


def test_namespace_rule() -> None:
    assert is_valid_namespace("org.eclipse.ditto")
    assert is_valid_namespace("")
    assert not is_valid_namespace("org.")
    assert not is_valid_namespace("9org")
