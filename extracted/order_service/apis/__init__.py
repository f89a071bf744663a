"""HTTP views of the Order service: /api/v1 (the monolith's contract), /api/v2 (asynchronous checkout)."""
