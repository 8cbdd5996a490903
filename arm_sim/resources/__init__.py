"""ResourceService: the single write path for every ARM resource, used by REST and templates alike."""
