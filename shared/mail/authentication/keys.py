"""The TXT lookup dkimpy calls for DKIM keys and ARC seals, answered by the suite's resolver."""
from __future__ import annotations

import re
from collections.abc import Callable

from shared.mail.resolver import DnsFailure, Resolver

KEY_LOOKUP_TIME = 5.0
# s= and d= come from the message: a name they make that is no DNS name is a bad signature,
# not a lookup that failed (which would make it a temperror, and a forger's mail deferred).
_DNS_NAME = re.compile(rb"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}\.?")


class KeyLookupFailed(Exception):
    """The key could not be looked up (DNS trouble): a temporary error, not a bad signature."""


def key_lookup(resolver: Resolver) -> Callable[..., bytes | None]:
    """A dkimpy `dnsfunc`: the key record's text, None when there is none."""

    def lookup(name: bytes, timeout: float = KEY_LOOKUP_TIME) -> bytes | None:
        if not _DNS_NAME.fullmatch(name):
            return None
        try:
            records = resolver.txt(name.decode("ascii", "replace"), lifetime=min(timeout, KEY_LOOKUP_TIME))
        except DnsFailure as failure:
            raise KeyLookupFailed(str(failure)) from None
        return records[0].encode("utf-8") if records else None

    return lookup
