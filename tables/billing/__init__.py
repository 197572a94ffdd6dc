"""Billing: the monthly charge run, proration, debt suspension, tariff changes, promised payments."""
