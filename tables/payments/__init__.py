"""Payments: card top-ups, quick pay, office (cash) payments, refunds, the provider's events."""
