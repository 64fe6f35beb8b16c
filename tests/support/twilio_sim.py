"""The Twilio player for the tests: `ivr.twilio_standin.player` itself (shared with `ivr simulate`).

This name is the same module object, so code that replaces one of its names for a while (the
benchmarks pin `new_sid`) changes what the player uses.
"""

import sys

from ivr.twilio_standin import player

sys.modules[__name__] = player
