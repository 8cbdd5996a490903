"""Resource providers: one module per namespace with validation, defaults and lifecycle hooks.

The registry (`registry.PROVIDERS`) is an explicit tuple; nothing registers itself on import.
"""
