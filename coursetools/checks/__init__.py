"""Checks, one module per lesson. Each module registers its exercises on import."""
