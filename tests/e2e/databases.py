"""Throwaway PostgreSQL databases on the server of DATABASE_URL, for tests that start real processes
(the implementation lives in legacy_monolith/demo/services.py, shared with the benchmarks)."""

from legacy_monolith.demo.services import admin_connection, throwaway_database

__all__ = ["admin_connection", "throwaway_database"]
