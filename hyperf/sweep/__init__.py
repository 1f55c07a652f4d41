"""Sweeps: spec (YAML) → plan (points) → executor (local workers | Ray) → store (SQLite)."""
