"""The RFC 9162 Merkle tree of the log, its inclusion and consistency proofs, and the
frontier that appends to it (MSP section 3). Pure: see ``market.protocol``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from market.protocol.encoding import (
    H,
    check_digest,
)

# ---------------------------------------------------------------------------------------
# Merkle tree (section 3, RFC 9162 section 2.1)
# ---------------------------------------------------------------------------------------

EMPTY_ROOT: Final = H(b"")
# The 0x00 / 0x01 prefixes keep a leaf from ever being passed off as an inner node.
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"

Range = tuple[int, int]  # [start, end) in leaf indexes
RangeHasher = Callable[[int, int], bytes]  # MTH of the leaves in [start, end)


def leaf_hash(entry: bytes) -> bytes:
    return H(_LEAF + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return H(_NODE + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 9162 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the leaves. A stack of perfect subtrees instead of the recursive definition:
    O(n) time and O(log n) memory, so a million leaves is no trouble."""
    stack: list[tuple[int, bytes]] = []  # (level, hash); levels strictly decrease
    for h in leaf_hashes:
        level, node = 0, h
        while stack and stack[-1][0] == level:
            node = node_hash(stack.pop()[1], node)
            level += 1
        stack.append((level, node))
    return _fold_right([h for _, h in stack])


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Root of a tree whose right edge holds these perfect subtrees, largest first: the
    RFC splits off the largest power of two each time, which is exactly this fold."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def perfect_pieces(start: int, end: int) -> list[Range]:
    """The perfect subtrees, largest first, whose right fold is the MTH of [start, end):
    one per set bit of the range's length. For every range the proof functions return
    they are also aligned (start a multiple of their size), so a store that keeps the hash
    of every aligned perfect subtree can hash any such range without reading leaves."""
    if not 0 <= start <= end:
        raise ValueError(f"bad range [{start}, {end})")
    pieces: list[Range] = []
    position, remaining = start, end - start
    while remaining:
        size = 1 << (remaining.bit_length() - 1)
        pieces.append((position, position + size))
        position += size
        remaining -= size
    return pieces


def hash_range(start: int, end: int, perfect_hash: RangeHasher) -> bytes:
    """MTH of [start, end) from the hashes of its perfect pieces."""
    return _fold_right([perfect_hash(s, e) for s, e in perfect_pieces(start, end)])


def subtree_ranges_for_inclusion(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs, in order, are the inclusion proof of leaf ``index`` in the
    tree of ``size`` leaves (RFC 9162 2.1.3.1 PATH), the sibling nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of {size} leaves")
    siblings: list[Range] = []
    lo, hi = 0, size
    # Walk down from the root; the recursion appends each sibling after the deeper path,
    # so the list comes out reversed.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo = lo + k
    siblings.reverse()
    return siblings


def subtree_ranges_for_consistency(first: int, second: int) -> list[Range]:
    """The ranges whose MTHs, in order, are the consistency proof from ``first`` to
    ``second`` leaves (RFC 9162 2.1.4.1 PROOF / SUBPROOF); empty when first is 0 or equal
    to second, as section 4 of the specification says."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []
    siblings: list[Range] = []
    lo, hi, m = 0, second, first
    whole_old_tree = True  # SUBPROOF's b: the old root is known, so it is not sent
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo, m = lo + k, m - k
            whole_old_tree = False
    head = [] if whole_old_tree else [(lo, hi)]
    siblings.reverse()
    return head + siblings


def _leaf_range_hasher(leaf_hashes: Sequence[bytes]) -> RangeHasher:
    return lambda start, end: root_from_leaf_hashes(leaf_hashes[start:end])


def _check_size(leaf_hashes: Sequence[bytes], size: int) -> None:
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaves given")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Inclusion proof from leaves in memory; a store uses the ranges with its own hasher."""
    _check_size(leaf_hashes, size)
    hasher = _leaf_range_hasher(leaf_hashes)
    return [hasher(s, e) for s, e in subtree_ranges_for_inclusion(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """Consistency proof from leaves in memory; a store uses the ranges with its own hasher."""
    _check_size(leaf_hashes, second)
    hasher = _leaf_range_hasher(leaf_hashes)
    return [hasher(s, e) for s, e in subtree_ranges_for_consistency(first, second)]


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # more hashes than the tree has levels
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step, plus the two trivial cases the specification
    defines with an empty proof (first = 0, where the old root must be H(""), and
    first = second, where the roots must be equal)."""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is on the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class Frontier:
    """The right edge of the tree (a "compact range"): the roots of its perfect subtrees,
    largest first. That is all a store must keep to append a leaf in O(log n) and to know
    the root, without reading the log back."""

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[tuple[int, bytes]] = []  # (level, hash); a level-l node has 2^l leaves

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> list[tuple[int, bytes]]:
        return list(self._nodes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return every perfect subtree it completes as (start, end, hash),
        the leaf itself first, so a store can keep them for proofs."""
        check_digest(leaf_hash, "leaf hash")
        start = self._size
        completed = [(start, start + 1, leaf_hash)]
        level, node = 0, leaf_hash
        while self._nodes and self._nodes[-1][0] == level:
            node = node_hash(self._nodes.pop()[1], node)
            level += 1
            completed.append((start + 1 - (1 << level), start + 1, node))
        self._nodes.append((level, node))
        self._size += 1
        return completed

    def root(self) -> bytes:
        return _fold_right([h for _, h in self._nodes])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for canonical_json or a JSON column)."""
        return {
            "size": self._size,
            "nodes": [[level, h.hex()] for level, h in self._nodes],
        }

    @classmethod
    def from_nodes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """A frontier from its hashes, largest subtree first (as a store keeps them)."""
        levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if size < 0 or len(hashes) != len(levels) or any(len(h) != 32 for h in hashes):
            raise ValueError(f"{len(hashes)} hashes do not make the right edge of a tree of {size} leaves")
        frontier = cls()
        frontier._size = size
        frontier._nodes = [(level, bytes(h)) for level, h in zip(levels, hashes, strict=True)]
        return frontier

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frontier:
        """Rebuild a frontier, refusing one whose levels do not spell out its size (a
        corrupt frontier would silently give every later root wrong)."""
        try:
            size = data["size"]
            nodes = [(level, bytes.fromhex(h)) for level, h in data["nodes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a frontier: {exc}") from None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("frontier size must be a non-negative integer")
        expected = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if [level for level, _ in nodes] != expected:
            raise ValueError(f"frontier levels do not match size {size}")
        if any(len(h) != 32 for _, h in nodes):
            raise ValueError("frontier hashes must be 32 bytes")
        frontier = cls()
        frontier._size = size
        frontier._nodes = nodes
        return frontier
