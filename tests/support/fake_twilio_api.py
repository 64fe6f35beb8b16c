"""The Twilio REST stand-in for the tests: it lives in `ivr.twilio_standin.rest_api` (shared with `ivr up --demo`)."""

from ivr.twilio_standin.rest_api import *  # noqa: F403
