"""JWT access tokens: ES256, with kid, iss, aud, sub, exp, nbf, iat, jti, scope and the custom claims
roles and legacy_user_id. Pure (no Django): the auth service issues with it, and any resource server
(services, later the gateway) verifies with it from a cached JWKS.

Verification pins the algorithm to ES256 before anything else, so alg=none and the HS256-with-the-
public-key trick are refused whatever PyJWT would do; kid, exp, iat, nbf, iss and aud are required.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from kernel.crypto import ALGORITHM

TOKEN_TYPE = "at+jwt"  # RFC 9068 header typ of a JWT access token
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "sub", "jti")


class InvalidToken(Exception):
    """A token was refused. `code` is stable (tests and the 401 body key on it)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AccessTokenClaims:
    """What a verified access token says."""

    subject: str
    scopes: tuple[str, ...]
    roles: tuple[str, ...]
    legacy_user_id: int | None
    client_id: str | None
    kid: str
    claims: Mapping[str, Any] = field(repr=False)


def issue_access_token(
    *,
    private_key: ec.EllipticCurvePrivateKey,
    kid: str,
    issuer: str,
    audience: str | Sequence[str],
    subject: str,
    ttl_seconds: int,
    scopes: Sequence[str] = (),
    roles: Sequence[str] = (),
    legacy_user_id: int | None = None,
    client_id: str | None = None,
    now: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Sign one access token. `now` (epoch seconds) lets tests mint expired or future tokens."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": issuer,
        "aud": audience if isinstance(audience, str) else list(audience),
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
        "roles": list(roles),
        "legacy_user_id": legacy_user_id,
    }
    if client_id is not None:
        claims["client_id"] = client_id
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})


KeyLookup = Callable[[str], ec.EllipticCurvePublicKey | None]


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, else None. The scheme is matched in any case
    (RFC 9110 §11.1), as the gateway matches it: a `bearer …` the gateway verified must not be refused, or
    taken for no credential, by the service behind it. Every resource server reads its token with this."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def verify_access_token(
    token: str,
    *,
    key_for_kid: KeyLookup | Mapping[str, ec.EllipticCurvePublicKey],
    issuer: str,
    audience: str,
    leeway_seconds: int = 0,
) -> AccessTokenClaims:
    """Verify signature and claims; raise InvalidToken with a stable code on any failure.

    `key_for_kid` answers the public key of a verifying kid (a JWKS cache, the key store) or None."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidToken("malformed_token", "The token is not a compact JWS")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:  # not JSON, not an object, a kid that is no string, ...
        raise InvalidToken("malformed_token", "The token header is not a valid JOSE header") from None
    except Exception:  # whatever else the parser trips on is still a token that does not parse
        raise InvalidToken("malformed_token", "The token header does not parse") from None
    if header.get("alg") != ALGORITHM:  # before any key is touched: alg=none, HS256, RS256...
        raise InvalidToken("unsupported_algorithm", f"Only {ALGORITHM} tokens are accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("missing_kid", "The token header names no kid")
    lookup = key_for_kid.get if isinstance(key_for_kid, Mapping) else key_for_kid
    key = lookup(kid)
    if key is None:
        raise InvalidToken("unknown_kid", "The token was signed with a key this service does not know")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": False},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token_expired", "The token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken(
            "token_not_yet_valid", "The token is not valid yet (nbf is in the future)"
        ) from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("invalid_audience", "The token is not meant for this audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("invalid_issuer", "The token was issued by someone else") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken("missing_claim", f"The token lacks the {exc.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("invalid_signature", "The token signature does not verify") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid_token", f"The token is invalid: {exc}") from None
    except Exception:  # a payload the parser trips on (PyJWT wraps most, not all)
        raise InvalidToken("malformed_token", "The token payload does not parse") from None
    return _claims(claims, kid)


def _claims(claims: Mapping[str, Any], kid: str) -> AccessTokenClaims:
    """The typed view of a verified payload; a claim of the wrong type refuses the token (it was signed by
    our key, so this is a bug or a forgery attempt, never something to guess around)."""
    subject, scope, roles = claims["sub"], claims.get("scope") or "", claims.get("roles") or []
    legacy, client_id = claims.get("legacy_user_id"), claims.get("client_id")
    if (
        not isinstance(subject, str | int)
        or isinstance(subject, bool)
        or not isinstance(scope, str)
        or not isinstance(roles, list)
        or not all(isinstance(role, str) for role in roles)
        or (legacy is not None and (not isinstance(legacy, int) or isinstance(legacy, bool)))
        or (client_id is not None and not isinstance(client_id, str))
    ):
        raise InvalidToken("invalid_claims", "A claim of the token has the wrong type")
    return AccessTokenClaims(
        subject=str(subject),
        scopes=tuple(scope.split()),
        roles=tuple(roles),
        legacy_user_id=legacy,
        client_id=client_id,
        kid=kid,
        claims=claims,
    )
