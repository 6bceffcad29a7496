"""Services: the business rules. Doors call them; they call core."""
