"""How the OpenAPI schema names bearer JWT authentication and the internal API token (registered when
the app is ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerJwtScheme(OpenApiAuthenticationExtension):
    target_class = "extracted.auth_service.authentication.BearerJwtAuthentication"
    match_subclasses = True
    name = "bearerJwt"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class InternalTokenScheme(OpenApiAuthenticationExtension):
    """The /internal/v1 endpoints' bearer INTERNAL_API_TOKEN (`sync users`)."""

    target_class = "chassis.internal_auth.InternalTokenAuthentication"
    name = "internalApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "INTERNAL_API_TOKEN"}
