"""The identity lifecycle primitives: tenancy, directory, tokens, rbac, clock, events."""
