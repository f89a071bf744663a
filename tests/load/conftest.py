from tests.e2e.conftest import e2e_database_url  # noqa: F401 (a throwaway PostgreSQL database)
