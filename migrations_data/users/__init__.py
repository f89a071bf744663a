"""`sync users backfill|follow|verify`: monolith users -> the auth service, through the generic engine."""
