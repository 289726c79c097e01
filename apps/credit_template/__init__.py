"""The credit-lending template: metadata, demo data, amortization."""
