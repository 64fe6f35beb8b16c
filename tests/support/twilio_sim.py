"""The Twilio player for the tests: it lives in `ivr.twilio_standin.player` (shared with `ivr simulate`)."""

from ivr.twilio_standin.player import *  # noqa: F403
