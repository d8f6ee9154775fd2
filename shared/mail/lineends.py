"""Line ends of stored mail: CRLF throughout, so POP3 can stream a file as it is."""
from __future__ import annotations

import re

# A LF not after a CR. Written LF-first, the regular expression engine jumps from LF to LF;
# the usual look-behind-first form tests every byte (bench/RESULTS.md).
BARE_LF = re.compile(rb"\n(?<!\r\n)")


def to_crlf(message: bytes) -> bytes:
    """CRLF line ends throughout and at the end."""
    normalised = BARE_LF.sub(b"\r\n", message)  # the same object when there is none
    return normalised if normalised.endswith(b"\r\n") or not normalised else normalised + b"\r\n"
