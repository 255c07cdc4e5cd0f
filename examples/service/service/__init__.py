"""A small FastAPI service on mfa-amr, on the async PostgreSQL claims store."""
