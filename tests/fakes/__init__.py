"""Test doubles of the outside world: a faithful fake Saleor and provider fakes."""
