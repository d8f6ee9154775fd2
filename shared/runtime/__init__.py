"""The network runtime every service process runs on: pre-fork workers sharing listening
sockets, accept balancing between them, the event loop, the TLS context and per-IP connection
caps (the login lockout is an account rule: shared.accounts.lockout).

May import: `shared.config` and `shared.errors` only. Nothing here knows about accounts,
mail or storage, so a service's process model can change without touching a business rule.
"""
