"""Alembic migrations of dirac-core (a package so that wheels ship them)."""
