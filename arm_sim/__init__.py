"""arm-sim: a local, persistent simulation of Azure's managed identity lifecycle."""

__version__ = "0.1.0"
