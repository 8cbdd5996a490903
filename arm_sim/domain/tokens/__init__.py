"""Tokens: per-tenant signing key ring, the issuer of access tokens, and the validator resource servers use."""
