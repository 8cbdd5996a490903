"""A Microsoft Graph subset under /v1.0: service principals, applications, /me."""
