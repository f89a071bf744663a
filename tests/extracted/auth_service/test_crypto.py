import pytest

from extracted.auth_service import oidc_key
from kernel import crypto


def test_a_sealed_private_key_opens_with_the_same_key_and_kid():
    key = crypto.parse_encryption_key(crypto.new_encryption_key())
    pem = crypto.private_key_pem(crypto.generate_private_key())
    sealed = crypto.seal(pem, key=key, associated="kid-1")
    assert b"PRIVATE KEY" not in sealed.encode()
    assert crypto.unseal(sealed, key=key, associated="kid-1") == pem


@pytest.mark.parametrize("change", ["other key", "other kid", "flipped byte"])
def test_a_sealed_private_key_does_not_open_with_another_key_kid_or_a_flipped_byte(change):
    key = crypto.parse_encryption_key(crypto.new_encryption_key())
    sealed = crypto.seal(b"secret", key=key, associated="kid-1")
    kid = "kid-1"
    if change == "other key":
        key = crypto.parse_encryption_key(crypto.new_encryption_key())
    elif change == "other kid":
        kid = "kid-2"
    else:
        raw = bytearray(crypto.b64url_decode(sealed.removeprefix(crypto.SEALED_PREFIX)))
        raw[-1] ^= 1
        sealed = crypto.SEALED_PREFIX + crypto.b64url(bytes(raw))
    with pytest.raises(crypto.KeyMaterialError):
        crypto.unseal(sealed, key=key, associated=kid)


@pytest.mark.parametrize("text", ["", "c2hvcnQ", "not base64 !!"])
def test_an_encryption_key_that_is_not_32_base64url_bytes_is_refused(text):
    with pytest.raises(crypto.KeyMaterialError):
        crypto.parse_encryption_key(text)


def test_the_kid_is_the_rfc7638_thumbprint_of_the_public_key():
    # RFC 7638 section 3.1 gives an RSA example; for EC the member set is crv, kty, x, y.
    jwk = crypto.public_jwk(crypto.generate_private_key().public_key())
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert crypto.thumbprint(jwk) == crypto.thumbprint(dict(reversed(list(jwk.items()))))
    other = crypto.public_jwk(crypto.generate_private_key().public_key())
    assert crypto.thumbprint(jwk) != crypto.thumbprint(other)


def test_the_dev_oidc_key_is_created_once_and_reused(tmp_path):
    path = tmp_path / "oidc.pem"
    first = oidc_key.dev_rsa_key_pem(path)
    assert "PRIVATE KEY" in first
    assert oidc_key.dev_rsa_key_pem(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
