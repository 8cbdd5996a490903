"""The Key Vault data plane: one HTTPS port per vault, the vault chosen by the local port."""
