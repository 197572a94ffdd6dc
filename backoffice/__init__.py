"""Piccolo Admin configuration for office staff."""
