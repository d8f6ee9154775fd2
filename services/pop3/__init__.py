"""The POP3 service: `serve_pop3(settings)` runs it (the `beaconmail pop3` command);
`Pop3Server(settings)` with `start()`/`stop()` embeds it, e.g. in tests."""

from services.pop3.transport import Pop3Server, serve_pop3

__all__ = ["Pop3Server", "serve_pop3"]
