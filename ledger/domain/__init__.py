"""The rules as pure code: catalog, customer ids, eligibility, creation, access."""
