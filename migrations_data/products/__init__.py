"""`sync products ...`: the catalog's entity specs, backfill and verify/repair against the Product service."""
