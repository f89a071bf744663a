"""The Product service's HTTP API: /api/v1 (the monolith's contract), /api/v2, /internal/v1."""
