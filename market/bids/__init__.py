"""Bids: sealed bids placed and withdrawn on a notice, their receipts, pages and API."""
