"""The Azure Resource Manager host: subscriptions, resource groups, generic resources, LROs."""
