"""Reference data as plain Python: the service catalogue and GB/T 2260 regions."""
