"""What people read, in their language: the gettext catalogs (English and Portuguese (Brazil))
and the formats of dates, days and amounts. The bottom layer: it knows no other part of the
ledger, so the e-mails, the API's problems and the page all speak from the same catalogs."""
