"""The simulator's own API under /_sim: health, CA, clock, events."""
