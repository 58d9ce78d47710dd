"""The page's routes, one module per part of the site."""
