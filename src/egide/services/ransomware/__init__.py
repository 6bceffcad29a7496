"""Ransomware detection on the write path and containment (issue 8, items 1-2).

`detector.Detector` is called by the vault services inside their own
transactions; `service.IncidentService` is what administrators use.
"""
