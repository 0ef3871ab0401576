"""The append-only public log: the pure MSP/1 protocol (``protocol.py``), its store and
its HTTP and HTML front ends."""
