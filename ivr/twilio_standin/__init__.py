"""Twilio, stood in for: the one package behind `ivr simulate`, /admin/simulate, `ivr up --demo` and the tests.

- `player`: Twilio's voice side of a call (signed webhooks, TwiML verbs run in order).
- `callers`: who is on the phone (a script or a person at the terminal) and what they hear.
- `rest_api`: Twilio's REST API for recordings, calls and numbers, over real HTTP.
- `sandbox`: the real app on scratch storage for simulated calls; `isolated` runs it in a child process.

Nothing here is imported by the line itself: only by commands, the admin page (through `isolated`) and tests.
"""

from pathlib import Path

# Where `ivr up --demo` writes the address of its Twilio stand-in, for `ivr simulate --into` (removed at stop).
DEMO_API_FILE = Path("var/demo-twilio-api")
