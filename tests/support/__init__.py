"""Test tooling shared by the suites: kept out of the product's packages, which ship to users.

What more than one suite uses lives here (the fault proxy, staged runs, S3 listings, the handler's
filer swap); suite-specific helpers stay next to their suite, and conftest.py files register
fixtures, importing what they need from here."""
