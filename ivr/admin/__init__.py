"""The admin's tools: blueprint "admin" at /admin (`routes.py`) and the admin commands (`cli.py`).

Nothing is imported here, so the commands (`ivr flow check` in the agency's CI) load no Flask app.
"""
