"""The antivirus scanner's client (ClamAV clamd), independent of the vault."""
