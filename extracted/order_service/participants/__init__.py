"""The saga's participants: ports (what the saga needs) and adapters (who provides it)."""
