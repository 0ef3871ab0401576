"""The registry of entry types: plain strings spelled as the log has always written them,
so that an entry built with a registry name has the same bytes as one built with the text."""

from __future__ import annotations

from market import protocol
from market.protocol import entry_types

TYPES = {
    name: value for name, value in vars(entry_types).items() if name.isupper() and isinstance(value, str)
}


def test_every_type_is_a_plain_string_named_after_its_spelling() -> None:
    assert len(TYPES) == len(set(TYPES.values())) >= 50
    for name, value in TYPES.items():
        assert type(value) is str
        assert value == name.lower().replace("_", ".", 1), name


def test_an_entry_built_with_a_registry_name_has_the_bytes_of_one_built_with_the_text() -> None:
    for value in TYPES.values():
        literal = "".join(value)  # a str built anew, not the registry's object
        assert protocol.canonical_json({"type": getattr(entry_types, value.upper().replace(".", "_"))}) == (
            protocol.canonical_json({"type": literal})
        )


def test_a_notices_story_is_the_types_the_verifier_has_always_followed() -> None:
    assert entry_types.NOTICE_TYPES == {
        "notice.published",
        "notice.amended",
        "notice.cancelled",
        "bid.accepted",
        "bid.withdrawn",
        "bidding.closed",
        "bids.opened",
        "selection.failed",
        "selection.drawn",
        "selection.direct",
        "award.declined",
        "award.disqualified",
        "award.final",
        "objection.filed",
        "objection.answered",
        "objection.decided",
    }
    assert entry_types.V1_ONLY_TYPES == {"bid.accepted", "bid.withdrawn"}
    assert entry_types.V2_ONLY_TYPES == {"bids.opened"}


def test_no_module_outside_the_kit_spells_an_entry_type_itself() -> None:
    # One registry: a writer or reader that types "award.declined" by hand can drift from
    # what the verifier reads; every one names entry_types.AWARD_DECLINED instead.
    import io
    import tokenize
    from pathlib import Path

    market = Path(protocol.__file__).resolve().parent.parent
    registered = {
        value for name, value in vars(entry_types).items() if name.isupper() and isinstance(value, str)
    }
    spelled = [
        f"{path.relative_to(market.parent)}:{token.start[0]}"
        for path in sorted(market.rglob("*.py"))
        if "protocol" not in path.relative_to(market).parts
        for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        if token.type == tokenize.STRING and token.string.strip("\"'") in registered
    ]
    assert spelled == []
