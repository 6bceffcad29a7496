"""OpenID Connect single sign-on (issue 5, item 4): see docs/sso.md."""
