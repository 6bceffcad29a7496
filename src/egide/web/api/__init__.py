"""REST API v1 routers (API.md), one module per resource."""
