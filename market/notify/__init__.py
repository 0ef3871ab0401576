"""Notifications people actually get: e-mail through a queue in PostgreSQL, each user's
choice of what they receive, agencies' subscriptions to new notices, and the Atom feed."""
