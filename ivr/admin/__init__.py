"""Blueprint \"admin\": flow status, diagram and simulation for admins."""
