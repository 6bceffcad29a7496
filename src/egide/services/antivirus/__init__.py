"""Antivirus scanning of every upload, held contents and rescans (docs/antivirus.md)."""
