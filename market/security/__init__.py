"""Passwords, tokens, guards, CSRF and rate limits."""
