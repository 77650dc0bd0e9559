"""Where work runs outside a request: the in-process background loop (and, for scale-out, Celery)."""
