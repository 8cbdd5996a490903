"""ARM's bearer check: every call needs a valid token for the management audience."""

from __future__ import annotations

from functools import lru_cache

from arm_sim.core.errors import AuthenticationError
from arm_sim.domain import events, tenancy
from arm_sim.domain.context import Caller, Ctx
from arm_sim.domain.tokens import validator

ARM_AUDIENCES = (
    "https://management.core.windows.net/", "https://management.core.windows.net",
    "https://management.azure.com/", "https://management.azure.com",
)
AUDIENCE_MESSAGE = (
    "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one "
    "of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net',"
    "'https://management.azure.com/','https://management.azure.com'."
)


@lru_cache(maxsize=8)
def own_audiences(public_url: str) -> tuple[tuple[str, ...], str]:
    """ARM's audiences and the simulator's own management URL, as Azure Stack and sovereign clouds accept theirs:
    clients that derive the scope from the endpoint (`{endpoint}/.default`) ask for it."""
    audiences = (*ARM_AUDIENCES, f"{public_url}/", public_url)
    allowed = ",".join(f"'{a}'" for a in audiences)
    message = ("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match "
               f"with one of the allowed audiences {allowed}.")
    return audiences, message


def authenticate(ctx: Ctx, token: str | None, subscription_id: str | None,
                 audiences: tuple[str, ...] = ARM_AUDIENCES, audience_message: str = AUDIENCE_MESSAGE,
                 host: str = "arm") -> Caller:
    """The caller of a resource server (`host` names it in refusal events: arm, graph, sim …)."""
    if audiences is ARM_AUDIENCES:
        audiences, audience_message = own_audiences(ctx.settings.public_url)
    try:
        if token is None:
            raise AuthenticationError("AuthenticationFailed",
                                      "Authentication failed. The 'Authorization' header is missing.", "missing")
        if token == "":
            raise AuthenticationError(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.", "format")
        claims = validator.validate(ctx, token, audiences, audience_message)
        if subscription_id:
            sub_tenant = tenancy.subscription_tenant(ctx, subscription_id)
            if sub_tenant is not None and sub_tenant != claims.get("tid"):
                raise AuthenticationError(
                    "InvalidAuthenticationTokenTenant",
                    f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                    f"'https://sts.windows.net/{sub_tenant}/' associated with this subscription. Please use the "
                    f"authority (URL) 'https://login.windows.net/{sub_tenant}' to get the token.", "tenant")
    except AuthenticationError as e:
        events.record_refusal(ctx, "token.rejected", host, code=e.code, reason=e.reason)
        raise
    ctx.caller = Caller(claims)
    return ctx.caller
