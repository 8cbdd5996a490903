"""Key Vault's bearer check: a token for https://vault.azure.net from the vault's own tenant, on the simulated
clock, refused with Key Vault's own messages (AKV10022 audience, AKV10032 issuer)."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import AuthenticationError
from arm_sim.domain import events
from arm_sim.domain.context import Caller, Ctx
from arm_sim.domain.tokens import validator
from arm_sim.domain.vaults import VaultView

AUDIENCES = ("https://vault.azure.net", "https://vault.azure.net/")
AUDIENCE_MESSAGE = "AKV10022: Invalid audience. Expected https://vault.azure.net, found: {aud}."
MISSING = "Request is missing a Bearer or PoP token."


def _issuer_message(vault: VaultView, iss: Any) -> str:
    return f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{vault.tenant_id}/, found {iss}."


def _message(e: AuthenticationError, vault: VaultView, token: str) -> str:
    """Key Vault's wording for what the shared validator found."""
    if e.code == "InvalidAuthenticationTokenAudience":
        return e.message
    if e.code == "InvalidAuthenticationTokenTenant":
        iss = e.message.split("'")[1] if "'" in e.message else "an unknown issuer"
        return _issuer_message(vault, iss)
    if e.code == "ExpiredAuthenticationToken":
        return "[TokenExpired] Error validating token: 'S2S12086'."
    if e.reason == "signing key not found":
        return ("AKV10046: Unable to resolve the key used for signature validation. EncodedJwtHeader: "
                f"'{token.split('.')[0]}'.")
    if e.reason == "not yet valid":
        return "[TokenNotYetValid] Error validating token: 'S2S12085'."
    if e.reason == "bad signature":
        return "Error validating token: 'IDX10511'."
    return "Error validating token: 'IDX14100'."


def authenticate(ctx: Ctx, vault: VaultView, token: str | None) -> dict[str, Any]:
    """The token's claims, or AuthenticationError whose message is Key Vault's (the host adds the challenge)."""
    try:
        if not token:
            raise AuthenticationError("Unauthorized", MISSING, "missing")
        try:
            claims = validator.validate(ctx, token, AUDIENCES, AUDIENCE_MESSAGE)
        except AuthenticationError as e:
            raise AuthenticationError("Unauthorized", _message(e, vault, token), e.reason) from e
        if str(claims.get("tid", "")).lower() != vault.tenant_id.lower():
            raise AuthenticationError("Unauthorized", _issuer_message(vault, claims.get("iss")), "tenant")
    except AuthenticationError as e:
        events.record_refusal(ctx, "token.rejected", "keyvault", code=e.code, reason=e.reason,
                              vault=vault.resource_id)
        raise
    ctx.caller = Caller(claims)
    return claims
