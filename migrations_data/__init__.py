"""Data migration from the monolith to extracted services: backfill, incremental follow, verify.

Installed in the monolith as the Django app `migrations_data` (`manage.py sync ...`). The outbox
(`migrations_data.outbox`) is written by database triggers; see migration 0002 for why.
"""
