"""Halls (交易大厅): the jurisdictions of one deployment, and how far a staff account reaches."""
