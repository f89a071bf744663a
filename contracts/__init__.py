"""Wire formats: what two processes of the system exchange, kept in one place so that none of them
imports another's internals (the identity header, access tokens and their JWKS, trace context, the error
body, the event envelope, the product and user documents, the ABAC policies both sides enforce).

Pure Python: no Django, no mitmproxy, and nothing of the project but `kernel` (import-linter enforces it).
"""
