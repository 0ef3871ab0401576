"""Agencies: registration, credit codes, qualifications and who may bid for what."""
