"""Second factors: TOTP, recovery codes, and who must use them (issue 5)."""
