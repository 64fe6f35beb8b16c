"""Text from people (operators' notes and messages, callers' speech) made safe to store and to speak.

Control characters have no place in a note or a spoken sentence: a vertical tab makes TwiML
malformed XML (Twilio then fails the call), a NUL is refused by PostgreSQL. They are stripped on
the way in and again on the way out. Lone surrogates cannot be encoded at all: such text is refused.
"""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return; DEL and the C1 controls; the two non-characters
# XML forbids. None of these is valid (or meaningful) in XML 1.0 text.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeText(ValueError):
    """Text that cannot be stored or spoken as it is (lone surrogates)."""


def strip_control(text: str) -> str:
    """The text without control characters, surrogates replaced: always safe in XML and in the database."""
    return _SURROGATE.sub("\ufffd", CONTROL.sub("", text))


def checked_text(text: str) -> str:
    """Input text without control characters; UnsafeText if it holds characters no encoding can carry."""
    if _SURROGATE.search(text):
        raise UnsafeText("text holds lone surrogates")
    return CONTROL.sub("", text)
