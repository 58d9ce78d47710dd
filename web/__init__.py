"""The web page: server-rendered HTML for partners, reviewers and the customer's consent.

The page calls the Ledger and the read models in-process, as the API does, and shows what they
decide: no rule is written here.
"""
