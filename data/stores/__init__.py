"""The service's stores: bookings and outcomes, claims and remittances, in any SQLAlchemy database."""
