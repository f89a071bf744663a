from tests.flags.unleash_fixtures import unleash_server  # noqa: F401 (a real Unleash server for the bootstrap)
