"""The identity listener: per-VM IMDS and per-site App Service identity endpoints (plain HTTP)."""
