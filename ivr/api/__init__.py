"""The JSON API for the agency's other systems: blueprint "api" at /api (`routes.py` holds `bp`), bearer-token auth."""
