"""The Product service: the catalog extracted from the monolith (its /api/v1 read contract reproduced
exactly, /api/v2 with cursors and facets, the internal import/verify/stock API, a Redis cache-aside and the
catalog and stock event consumers). Run it with `python -m extracted.product_service <command>`."""
