"""The protocol kit (MSP/1 and MSP/2), pure: canonical JSON, hashes, the draw, Merkle trees,
signed notes and co-signatures, timelock, the entry types, and the verifier.

It imports nothing else from `market`, so that `ops/build_verifier.py` can deliver it as one
standalone file and anyone can re-run every draw offline."""
