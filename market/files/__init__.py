"""Uploaded files (agency documents, deliverables) kept in PostgreSQL, content-addressed by
SHA-256 and cut into chunks, so every app host serves every file and one database backup
holds them all. The rows that name a file (agency_document, deliverable) live in their own
domains and refer to it by its sha256."""
