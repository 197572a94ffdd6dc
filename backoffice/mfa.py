"""Authenticator-app MFA for staff (piccolo_api's provider), required for some roles."""

from __future__ import annotations

import hashlib

from piccolo_api.encryption.providers import XChaCha20Provider
from piccolo_api.mfa.authenticator.provider import AuthenticatorProvider

from settings import get_settings


def mfa_provider() -> AuthenticatorProvider:
    # The shared secrets are encrypted with a key derived from the installation secret.
    key = hashlib.sha256(("mfa:" + get_settings().secret_key.get_secret_value()).encode()).digest()
    return AuthenticatorProvider(encryption_provider=XChaCha20Provider(encryption_key=key),
                                 issuer_name="Centra")
