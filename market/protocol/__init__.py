"""The protocol kit (MSP/1 and MSP/2), pure: canonical JSON, hashes, the draw, Merkle trees,
signed notes and co-signatures, timelock, the entry types, and the verifier.

It imports nothing else from ``market``, so that ``ops/build_verifier.py`` can deliver it as
one standalone file and anyone can re-run every draw offline.

``market.protocol`` itself is the protocol's functions, whichever module of the kit holds
them (``protocol.canonical_json``, ``protocol.draw_order``, ``protocol.open_checkpoint``):
the writers and the verifier call them so, and the standalone verifier is one module with
all of them. The modules: ``encoding`` (canonical JSON, primitives, time), ``draw``
(commitments, bids, beacon, seed, draw, ranking), ``merkle`` (tree, proofs, frontier),
``notes`` (checkpoints and signed notes), ``entry_types`` (every type of log entry),
``tlock``, ``cosign``, ``witness``, ``receipt_check`` and the verifier
(``notice_checks``, ``verifier`` and the modules they use).

The Market Selection Protocol, version 1 (MSP/1), as pure functions.

Everything a verifier needs to re-derive a selection offline lives here: canonical JSON,
the commitment, the draw, the RFC 9162 Merkle tree with its proofs, and C2SP checkpoints
and signed notes. Nothing here touches a database, a clock or a random source; the secret,
the nonces and the signing key are always passed in. The specification is
``selection-protocol.md``; its section 6 vectors are the unit tests of this module.

Two programs written from the specification alone must agree byte for byte, so every
function refuses input the specification does not define instead of guessing what a
caller meant.

Readings of the specification that its text leaves open, settled here (the section 6
vectors all recompute under them):

- Weights above 1 are accepted (vector V2 needs them) although MSP/1 entries carry weight
  1; holding production draws to weight 1 is the selection service's rule. Likewise
  ``bid_document`` takes a price or None, and which one a method needs is the caller's.
- ``lowest_price`` ranking: every candidate needs a price; prices of bidders that are not
  candidates (excluded bidders' standing bids) are ignored.
- Consistency from size 0 has an empty proof: it holds when the old root is H("") and
  says nothing about the new root (the empty tree is a prefix of every tree).
- A checkpoint is exactly the three lines of section 3: C2SP extension lines are refused,
  since MSP/1 defines none.
- The drand round formula takes whole Unix seconds; :func:`deadline_unix` rounds a
  deadline with a fraction up, so the round is still emitted at least an hour after it.
"""

from market.protocol.draw import (
    MAX_BID_WINDOW_SECONDS,
    METHODS,
    OPENING_GRACE_SECONDS,
    QUICKNET_GENESIS,
    QUICKNET_PERIOD,
    SALT_BYTES,
    SCHEME_NONE,
    SEALINGS,
    TLOCK_PLAINTEXT_BYTES,
    U64Stream,
    beacon_value,
    bid_commitment,
    bid_document,
    bid_document_v2,
    bid_sha256,
    canonical_candidates,
    commitment,
    drand_quicknet_round,
    draw_order,
    draw_order_by_walking,
    draw_order_of_ordered,
    draw_steps,
    eligible_digest,
    eligible_digest_of_ordered,
    opening,
    rank,
    round_emitted_unix,
    scheme_for,
    scheme_round,
    seed,
    split_winners,
    tlock_plaintext,
    tlock_round,
    withdrawal_commitment,
)
from market.protocol.encoding import (
    ID_PATTERN,
    LP,
    MAX_SAFE_INTEGER,
    U64,
    U64_LIMIT,
    VERSION,
    VERSIONS,
    CanonicalJSONError,
    H,
    JSONValue,
    canonical_json,
    check_digest,
    check_id,
    deadline_unix,
    format_ts,
    parse_canonical,
    parse_ts,
    sha256_hex,
    u32be,
)
from market.protocol.merkle import (
    EMPTY_ROOT,
    Frontier,
    Range,
    RangeHasher,
    consistency_proof,
    hash_range,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_pieces,
    root_from_leaf_hashes,
    subtree_ranges_for_consistency,
    subtree_ranges_for_inclusion,
    verify_consistency,
    verify_inclusion,
)
from market.protocol.notes import (
    NoteError,
    checkpoint_text,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key,
)

__all__ = [
    "EMPTY_ROOT",
    "ID_PATTERN",
    "LP",
    "MAX_BID_WINDOW_SECONDS",
    "MAX_SAFE_INTEGER",
    "METHODS",
    "OPENING_GRACE_SECONDS",
    "QUICKNET_GENESIS",
    "QUICKNET_PERIOD",
    "SALT_BYTES",
    "SCHEME_NONE",
    "SEALINGS",
    "TLOCK_PLAINTEXT_BYTES",
    "U64",
    "U64_LIMIT",
    "VERSION",
    "VERSIONS",
    "CanonicalJSONError",
    "Frontier",
    "H",
    "JSONValue",
    "NoteError",
    "Range",
    "RangeHasher",
    "U64Stream",
    "beacon_value",
    "bid_commitment",
    "bid_document",
    "bid_document_v2",
    "bid_sha256",
    "canonical_candidates",
    "canonical_json",
    "check_digest",
    "check_id",
    "checkpoint_text",
    "commitment",
    "consistency_proof",
    "deadline_unix",
    "drand_quicknet_round",
    "draw_order",
    "draw_order_by_walking",
    "draw_order_of_ordered",
    "draw_steps",
    "eligible_digest",
    "eligible_digest_of_ordered",
    "format_ts",
    "hash_range",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "opening",
    "parse_canonical",
    "parse_checkpoint",
    "parse_ts",
    "parse_verifier_key",
    "perfect_pieces",
    "rank",
    "root_from_leaf_hashes",
    "round_emitted_unix",
    "scheme_for",
    "scheme_round",
    "seed",
    "sha256_hex",
    "sign_note",
    "split_winners",
    "subtree_ranges_for_consistency",
    "subtree_ranges_for_inclusion",
    "tlock_plaintext",
    "tlock_round",
    "u32be",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
    "withdrawal_commitment",
]
