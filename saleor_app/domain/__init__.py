"""The pure model of order automation: no I/O, no frameworks."""
