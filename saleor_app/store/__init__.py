"""Persistence: tables, repositories that implement the domain ports, migrations and sessions."""
