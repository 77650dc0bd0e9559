"""Use cases: what the app does with webhooks, orders and jobs; talks to the world through domain ports."""
