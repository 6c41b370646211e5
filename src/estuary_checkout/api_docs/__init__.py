"""Swagger UI and ReDoc served from packaged assets (see router.py)."""
