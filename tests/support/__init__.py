"""Test helpers that are not fixtures, shared by test modules and conftest files.

No test module imports another test module or a conftest (tests/test_test_layout.py):
fixtures live in the conftest.py of the directory that uses them, everything else here.

- ``app``: the database under test, the test app, :class:`~tests.support.app.World`;
- ``web``: the CSRF token, logging in and posting forms through the test client;
- ``forms``: posting every form of the app as a browser would (the fuzz tests);
- ``draws``, ``reviews``, ``genomgang``, ``jobs``: arranging draws, reviews, genomgångar,
  notifications and jobs (with a tiny SMTP server);
- ``scene``: the fuzz tests' municipality and a snapshot of every table;
- ``faults``, ``proxy``: child ``kontroll`` processes, looks at locks, a TCP proxy to cut;
- ``browser``: Chromium's settings and the checks made on every page;
- ``xlsx``: writing small XLSX files; ``oidc_idp``: a local OpenID Connect identity provider.
"""
