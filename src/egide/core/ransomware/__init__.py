"""Ransomware detection signals and scoring (issue 8): pure, no I/O.

`filetypes` tells types from magic bytes and names, `signals` fingerprints a
version as it streams and compares it with the previous one, `scoring`
turns a principal's recent events into a score against thresholds.
"""
