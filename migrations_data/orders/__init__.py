"""Orders between the monolith and the Order service (sync orders ...)."""
