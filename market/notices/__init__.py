"""Procurement notices and sealed bids (MSP/1 steps 1-3)."""
