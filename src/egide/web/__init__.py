"""The HTTP door: a FastAPI application translating requests into service calls."""
