"""How the OpenAPI schema names bearer JWT authentication (registered when the app is ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerJwtScheme(OpenApiAuthenticationExtension):
    target_class = "extracted.auth_service.authentication.BearerJwtAuthentication"
    match_subclasses = True
    name = "bearerJwt"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
