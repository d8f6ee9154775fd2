"""The network runtime every service process runs on: pre-fork workers sharing listening
sockets, accept balancing between them, the event loop, the TLS context, per-IP connection
caps and failed-login throttling.

May import: `shared.config` and `shared.errors` only. Nothing here knows about accounts,
mail or storage, so a service's process model can change without touching a business rule.
"""
