"""The Auth service: an OAuth 2.1 / OpenID Connect authorization server (django-oauth-toolkit) issuing
ES256 JWT access tokens with a JWKS, Argon2id passwords (monolith PBKDF2 hashes upgraded at login),
lockout, RBAC/ABAC and a hash-chained audit log. Run it with `python -m extracted.auth_service <command>`."""
