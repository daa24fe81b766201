"""Webhook handlers written the way website teams write them, right and wrong, in Python and
Node.js, each served as a real HTTP server for ``check-receiver`` to judge."""
