"""The server's append-only public log: its tables, the store (append, proofs,
checkpoints), the signer, the cosigners' service, and its HTTP and HTML front ends. The
protocol it speaks is the pure kit ``market.protocol``."""
