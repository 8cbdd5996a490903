"""Microsoft Entra ID's token service: OIDC discovery, JWKS and the token endpoints, served at the root."""
