"""Blueprint \"voice\": Twilio's webhooks under /voice (routes.py holds `bp`)."""
