"""Accounts: users, roles, registration and log-in."""
