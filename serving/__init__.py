"""The FastAPI scoring service: app, schemas, auth, model loading and routes."""
