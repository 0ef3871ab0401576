"""drand quicknet timelock fields of MSP/2 sealed entries (market/protocol/tlock.py): offline,
with recorded rounds. The vectors from drand's own tools (Go ``tle``'s test suite and
tlock-js) show the fields are interoperable both ways."""

from __future__ import annotations

import base64
import hashlib

import pytest

from market.protocol import tlock
from market.protocol.tlock import TlockError, TlockUnavailable

needs_pairing = pytest.mark.skipif(not tlock.available(), reason="py-arkworks-bls12381 not installed")

# drand quicknet round 657413 (the MSP/1 V3 round)
ROUND = 657413
SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
# quicknet round 12040883, from drand/tlock tlock_test.go (TestDecryptText)
OTHER_ROUND = 12040883
OTHER_SIGNATURE = (
    "929906c959032ab363c9f26570d215d66f5c06cb0c44fe508c12bb5839f04ec895bb6868e5b9ff13ab289bdb5266b394"
)

# Fixed vector: _seal_with(PLAINTEXT, 657413, file key 00..0f, sigma 10..1f, nonce 20..2f).
# tlock-js 0.9.0 opens age_file(VECTOR_FIELD, 657413) to PLAINTEXT.
PLAINTEXT = bytes(range(256)) * 2
VECTOR_KEY, VECTOR_SIGMA, VECTOR_NONCE = bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48))
VECTOR_FIELD = (
    "o3xqYIiIAYg+4iJPuOOGo/LEoyUnINojJm0VkvWBrodY5GgJxeYcSc2/PPLJAl/5FVJierjUxH1hdd7VyLGEm87kNeJemB+/sKpW0fx8"
    "gfae7QJwMyoUR8zPI/6FwUMIxg8b20hvQ3W/X4m872e/A09mzYaya4eixxlk2oqyNGJLD4mjR+PTiNKumLqtFtorrHFnZpz1C62bSmA+"
    "bCW0rCAhIiMkJSYnKCkqKywtLi9SgsEnL25jskcMD0dfw+K/sUu/LRbviQhgLQv/njGvalut8qz0lWoL/UjToJMLMpL3Duya2efW8/98"
    "UnGFBtk9ggiZqnLXq2VqGlLAEDAGySBHvopPWJwViIx24cRMVfJ/mkMwNSuO63XQUHTej2w0lqNN3TFotFQmQb4OkASXJzckfI3ed587"
    "qHmNcLcWm93ZwkHnPTZmBGjRYBL0VkMRYNOgUZmVLYOsJoC19Y+epoHtO0jZfcJngshjJz8ujCDhg9LVJwK1utdIE2OW5NtsrWUhPIF2"
    "JZAd9jsIijlhmFcwOlI8j8t3oNA0QQLn7MMmb5ktXqw6571Q6BJt/KSjq+lgOKdTar7+3Qi1YTfJiV4IiiNk//lkQaOkz3/cOl/fxriP"
    "jQKZnUz0LBnk6Lv4xYVvdo8SAW3Aay0uIp4OQkS8PP1m/cDba9aTGp04BjS5ro9VWCiKCbSAvPfgRN1yq3wh+ozBameSfTEn/TKnYuIc"
    "WN52uAOGsd5YptHl4GiEudubKM46BLeZhu9HIDiBatHrFzX9dhVSHfGmOqzUJlzXfQC2DcngpOlmjlxzeY+leVUSylVyJt+mTrysiWiT"
    "LDLRb+mGFEvhbJYQ/WncgEjYKmjUshLJsO2HV6WieZ7n/Lw6NfyderajbE9B4tQNaMmuygYDu+LncCM7M+juT1q4NYNpckVof7WL4I6F"
    "p/4="
)
VECTOR_AGE_SHA256 = "79fdd8c5cf6638c9922e4f6e7a64fba250233565cff57ab7af59f487df2f46b3"

# Written by drand's Go tle (drand/tlock tlock_test.go, TestDecryptText): "hello world" to
# quicknet round 12040883, armored; the binary age file is the base64 inside the armor.
GO_TLE_ARMORED = """-----BEGIN AGE ENCRYPTED FILE-----
YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IHRsb2NrIDEyMDQwODgzIDUyZGI5YmE3
MGUwY2MwZjZlYWY3ODAzZGQwNzQ0N2ExZjU0Nzc3MzVmZDNmNjYxNzkyYmE5NDYw
MGM4NGU5NzEKa1JjK01NSEUwS005b1V0SmNLTWZGb1JFVzBXN1JQbTNtdzZpVUJ1
cGNXVkZkZDJQb1h6U0JrK25TM01BNnBKNwpHZDl3REhmVU5hTldXTWw2cGVia2Jh
OUVNZGJDWnBuQVNtOWFIb3hqUitwaGFVT2xoS1ppZGl5ZHBLSStPS2N0CmxvT2ZP
SW9KaGtndTVTRnJUOGVVQTJUOGk3aTBwQlBzTDlTWUJUZEJQb28KLS0tIEl6Q1Js
WSt1RXp0d21CbEg0cTFVZGNJaW9pS2l0M0c0bHVxNlNjT2w3UUUKDI4cDlPHPgjy
UnBmtsw6U2LlKh8iDf0E1PfwDenmKFfQaAGm0WLxdlzP8Q==
-----END AGE ENCRYPTED FILE-----"""

# Written by tlock-js 0.9.0 (timelockEncrypt to round 657413), packed.
TLOCK_JS_FIELD = (
    "pEywzNhyahicDt1Reh3zAOoFP6L6uoOw3IF2F7Ca4hb2FllwUkOiEJa6S12z9P/zAxjOkCBZOvIbnn/05TSTbeEZ0i4iXsETHHkyfRUp"
    "xhyrEml+biNZZj75Qo24DVWzX2x+TnsncvRuqWsi+D7agwPXBJlTJUeM4RsZfYhEdDA48XzFX5uqpQGuy830fvvf/gA9E/oZdUVuF0eR"
    "j+m2Ah0mMQIyoZ+eBT7KUjxMLrjS3Nl03PE/YZrU547d4lkiHK6yRLnioHRGUq6dr7hXW/BbY63KVUr/ZmheiQ=="
)


def go_tle_file() -> bytes:
    lines = GO_TLE_ARMORED.splitlines()[1:-1]
    return base64.b64decode("".join(lines))


def flip(field: str, index: int) -> str:
    raw = bytearray(base64.b64decode(field))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- framing: no pairing library needed ----------------------------------------------------


def test_age_file_rebuilds_the_vector_byte_exactly() -> None:
    age = tlock.age_file(VECTOR_FIELD, ROUND)
    assert hashlib.sha256(age).hexdigest() == VECTOR_AGE_SHA256
    head = (
        b"age-encryption.org/v1\n"
        b"-> tlock 657413 52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971\n"
    )
    assert age.startswith(head)
    raw = base64.b64decode(VECTOR_FIELD)
    assert len(raw) == 128 + 32 + 16 + 512 + 16  # stanza body, MAC, nonce, one chunk + tag
    body = base64.b64encode(raw[:128]).rstrip(b"=")
    assert age[len(head) :].startswith(body[:64] + b"\n" + body[64:128] + b"\n" + body[128:] + b"\n--- ")
    assert tlock.pack(age) == VECTOR_FIELD


def test_go_tle_file_packs_and_rebuilds_byte_exactly() -> None:
    age = go_tle_file()
    field = tlock.pack(age)
    assert tlock.age_file(field, OTHER_ROUND) == age
    assert b"12040883" not in base64.b64decode(field)


def test_pack_refuses_what_it_cannot_rebuild() -> None:
    age = tlock.age_file(VECTOR_FIELD, ROUND)
    with pytest.raises(TlockError):
        tlock.pack(GO_TLE_ARMORED.encode())  # armored: dearmor first
    with pytest.raises(TlockError):  # another chain
        other = b"dbd506d6ef76e5f386f41c651dcb808c5bcbd75471cc4eafa3f4df7ad4e4c493"
        tlock.pack(age.replace(tlock.QUICKNET_CHAIN_HASH.encode(), other))
    stanza_end = age.index(b"\n---")
    with pytest.raises(TlockError):  # a second stanza
        tlock.pack(age[:stanza_end] + b"\n-> X25519 abc\n" + age[stanza_end + 1 :])
    with pytest.raises(TlockError):  # round with a leading zero
        tlock.pack(age.replace(b"tlock 657413", b"tlock 0657413"))


@pytest.mark.parametrize(
    "field",
    [
        "",
        VECTOR_FIELD.rstrip("="),  # padding is required
        VECTOR_FIELD[:-4] + "p/5=",  # non-canonical last character
        VECTOR_FIELD.replace("+", "-"),  # url-safe alphabet
        base64.b64encode(b"\x00" * 191).decode(),  # too short: 128 + 32 + 16 + 16 is the least
        " " + VECTOR_FIELD,
    ],
)
def test_malformed_fields_are_refused(field: str) -> None:
    with pytest.raises(TlockError):
        tlock.age_file(field, ROUND)


@pytest.mark.parametrize("round_number", [0, -1, 2**64, True, "657413"])
def test_bad_rounds_are_refused(round_number: object) -> None:
    with pytest.raises(TlockError):
        tlock.age_file(VECTOR_FIELD, round_number)  # type: ignore[arg-type]


def test_without_the_pairing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tlock, "_bls", None)
    assert not tlock.available()
    assert tlock.age_file(VECTOR_FIELD, ROUND)  # reframing still works
    with pytest.raises(TlockUnavailable):
        tlock.open_sealed(VECTOR_FIELD, ROUND, SIGNATURE)
    with pytest.raises(TlockUnavailable):
        tlock.seal(PLAINTEXT, ROUND)


# --- sealing and opening -------------------------------------------------------------------


@needs_pairing
def test_round_trip_on_round_657413() -> None:
    field = tlock.seal(PLAINTEXT, ROUND)
    assert len(field) == 940
    assert tlock.open_sealed(field, ROUND, SIGNATURE) == PLAINTEXT
    assert tlock.open_sealed(field, ROUND, bytes.fromhex(SIGNATURE)) == PLAINTEXT
    assert tlock.seal(PLAINTEXT, ROUND) != field  # randomized


@needs_pairing
@pytest.mark.parametrize("plaintext", [b"", b"x", b"y" * 65536, b"z" * 65537])
def test_round_trip_lengths(plaintext: bytes) -> None:
    assert tlock.open_sealed(tlock.seal(plaintext, ROUND), ROUND, SIGNATURE) == plaintext


@needs_pairing
def test_fixed_vector() -> None:
    assert tlock._seal_with(PLAINTEXT, ROUND, VECTOR_KEY, VECTOR_SIGMA, VECTOR_NONCE) == VECTOR_FIELD
    assert tlock.open_sealed(VECTOR_FIELD, ROUND, SIGNATURE) == PLAINTEXT


@needs_pairing
def test_opens_what_go_tle_wrote() -> None:
    assert tlock.open_sealed(tlock.pack(go_tle_file()), OTHER_ROUND, OTHER_SIGNATURE) == b"hello world"


@needs_pairing
def test_opens_what_tlock_js_wrote() -> None:
    assert tlock.open_sealed(TLOCK_JS_FIELD, ROUND, SIGNATURE) == b"sealed by tlock-js for MSP/2"


@needs_pairing
@pytest.mark.parametrize(
    "index",
    [0, 50, 95, 96, 111, 112, 127, 128, 159, 160, 175, 176, 500, 703],
    ids=lambda i: f"byte{i}",
)
def test_tampering_is_caught(index: int) -> None:
    with pytest.raises(TlockError):
        tlock.open_sealed(flip(VECTOR_FIELD, index), ROUND, SIGNATURE)


@needs_pairing
def test_truncation_and_extension_are_caught() -> None:
    raw = base64.b64decode(VECTOR_FIELD)
    for changed in (raw[:-1], raw[:-16], raw + b"\x00", raw + raw[-544:]):
        with pytest.raises(TlockError):
            tlock.open_sealed(base64.b64encode(changed).decode(), ROUND, SIGNATURE)


@needs_pairing
def test_wrong_round_or_signature_does_not_open() -> None:
    with pytest.raises(TlockError):  # the right signature, but the header MAC names another round
        tlock.open_sealed(VECTOR_FIELD, ROUND + 1, SIGNATURE)
    with pytest.raises(TlockError):  # another round's signature
        tlock.open_sealed(VECTOR_FIELD, ROUND, OTHER_SIGNATURE)
    with pytest.raises(TlockError):  # not a point
        tlock.open_sealed(VECTOR_FIELD, ROUND, "00" * 48)
    with pytest.raises(TlockError):
        tlock.open_sealed(VECTOR_FIELD, ROUND, "zz")
