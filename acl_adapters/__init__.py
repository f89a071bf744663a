"""Anti-corruption layer: translators between the monolith's models and the extracted services'
contracts, and the clients the monolith uses to reach those services (with fallback to its own tables)."""
