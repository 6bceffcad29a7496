"""The audit tests' fixtures, for the bundle verifier's tests: a log to export."""

from tests.services.audit.conftest import doctor, record_many

__all__ = ["doctor", "record_many"]
