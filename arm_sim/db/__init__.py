"""Persistence: SQLAlchemy models, the engine and the unit of work. Migrations live in /migrations."""
