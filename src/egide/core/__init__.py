"""Core layer: crypto, blob store, database, configuration. Imports no service and no door."""
