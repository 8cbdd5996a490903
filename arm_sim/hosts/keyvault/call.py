"""One data-plane request as the handlers see it: the vault, the caller, the path split into segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from arm_sim.domain import vault_access, vault_secrets
from arm_sim.domain.context import Ctx
from arm_sim.domain.vault_access import Operation
from arm_sim.domain.vaults import VaultView
from arm_sim.hosts.http import json_response


@dataclass
class VaultCall:
    ctx: Ctx
    vault: VaultView  # read once per request: the data plane never changes the vault
    base: str  # the vault's address as this request asked for it, ending with '/'
    claims: dict[str, Any]
    method: str
    segs: list[str]  # path segments; an empty one is kept (`/secrets/s1/` = latest version)
    query: dict[str, str]
    body: Any
    api_version: str
    _recovery: tuple[str, int | None] | None = None

    @property
    def uri(self) -> str:
        """The vault's address, ending with '/' (object ids are `{uri}secrets/{name}/{version}`)."""
        return self.base

    def authorize(self, op: Operation, name: str | None = None) -> None:
        vault_access.authorize(self.ctx, self.vault, self.claims, op, name)

    def recovery(self) -> tuple[str, int | None]:
        if self._recovery is None:
            self._recovery = vault_secrets.recovery(self.ctx, self.vault)
        return self._recovery

    def listing(self, items: list[Any], key: Any, render: Any) -> Response:
        """A page of `items` with `nextLink` (null on the last page), as Key Vault pages its lists."""
        maxresults = vault_secrets.max_results(self.query.get("maxresults"))
        chunk, token = vault_secrets.page(items, key, maxresults, self.query.get("$skiptoken"))
        next_link = None
        if token:
            next_link = (f"{self.uri}{'/'.join(self.segs)}?api-version={self.api_version}&$skiptoken={token}"
                         f"&maxresults={maxresults}")
        return json_response({"value": [render(i) for i in chunk], "nextLink": next_link})


def ok(body: Any) -> Response:
    return json_response(body)


def no_content() -> Response:
    return Response(status_code=204)
