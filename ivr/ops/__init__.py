"""Blueprint \"ops\": health, readiness and metrics (routes.py holds `bp`)."""
