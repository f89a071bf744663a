"""The accounts ACL: monolith user rows -> the auth service's user documents (`sync users`)."""
