"""Checks an otp-lambda proof token in your backend: PyJWT (pip install "PyJWT[crypto]")."""

import json
import sys

import jwt

JWKS = jwt.PyJWKClient("https://YOUR-API.execute-api.eu-west-1.amazonaws.com/.well-known/jwks.json")


def verified_claims(token: str, jwks: jwt.PyJWKClient = JWKS) -> dict:
    """The token's claims if otp-lambda signed it, for us, and it has not expired; else raises."""
    key = jwks.get_signing_key_from_jwt(token)  # by the token's kid; the key set is cached
    return jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience="otp-lambda-clients",  # OTP_TOKEN_AUDIENCE
        issuer="otp-lambda",  # OTP_TOKEN_ISSUER
        options={"require": ["exp", "iat", "jti"]},
    )


if __name__ == "__main__":  # python verify_token.py JWKS_URL TOKEN
    try:
        print(json.dumps(verified_claims(sys.argv[2], jwt.PyJWKClient(sys.argv[1]))))
    except jwt.PyJWTError as error:
        sys.exit(f"rejected: {type(error).__name__}: {error}")
