"""The HTTP layer (FastAPI): health, readiness, metrics; REST and WebSocket as they land."""
