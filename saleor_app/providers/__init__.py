"""Adapters for the outside world: email, SMS and voice providers, and guarded outbound HTTP."""
