"""The public site and the subscriber cabinet (Litestar controllers, Jinja2 templates)."""
