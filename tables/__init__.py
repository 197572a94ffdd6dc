"""Piccolo app ``tables``: the schema and the domain operations that change it."""
