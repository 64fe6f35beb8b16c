"""The Twilio REST stand-in for the tests: `ivr.twilio_standin.rest_api` itself (shared with `ivr up --demo`)."""

import sys

from ivr.twilio_standin import rest_api

sys.modules[__name__] = rest_api
