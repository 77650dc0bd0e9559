"""The HTTP surface for people: the embedded Dashboard page, its JSON API, health checks."""
