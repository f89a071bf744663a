"""The OIDC discovery document, stating only what this server does.

django-oauth-toolkit's own document advertises HS256 for id_tokens (we sign them RS256 only), the hybrid
and implicit response types (refused: PKCE-protected `code` only, RFC 9700), and leaves out
`grant_types_supported`, `revocation_endpoint`, the `none` client authentication of public clients and the
claims the id_token and userinfo really carry. This view starts from DOT's document and replaces those
fields; tests check it with an independent OIDC client library (authlib) and against the endpoints.
"""

from __future__ import annotations

import json

from oauth2_provider.views import ConnectDiscoveryInfoView

# What the endpoints accept (settings.OAUTH2_PROVIDER: PKCE required, S256 only, no implicit or password).
RESPONSE_TYPES = ["code"]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # none: public clients + PKCE
ID_TOKEN_ALGORITHMS = ["RS256"]  # every code client is created RS256 (manage auth clients create)
# The id_token's registered claims, then the ones AuthServiceValidator adds by scope (profile, email).
CLAIMS = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "jti",
    "preferred_username", "email", "roles", "legacy_user_id",
]  # fmt: skip


class TruthfulDiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        document.update(
            response_types_supported=RESPONSE_TYPES,
            response_modes_supported=["query"],
            grant_types_supported=GRANT_TYPES,
            id_token_signing_alg_values_supported=ID_TOKEN_ALGORITHMS,
            token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            revocation_endpoint=self._get_endpoint_url(request, "revoke-token", required=True),
            revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            claims_supported=CLAIMS,
            subject_types_supported=["public"],
            claims_parameter_supported=False,
            request_parameter_supported=False,
            request_uri_parameter_supported=False,
        )
        response.content = json.dumps(document).encode()
        response["Content-Length"] = str(len(response.content))
        return response
