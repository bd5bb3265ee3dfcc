"""Test helpers that are not fixtures: a local OpenID Connect identity provider."""
