"""Test tooling shared by the suites: kept out of the product's packages, which ship to users."""
