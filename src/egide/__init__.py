"""Égide: a self-hosted encrypted vault for health documents."""

__version__ = "0.1.0"
