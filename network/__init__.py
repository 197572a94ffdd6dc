"""Network access: the endpoint FreeRADIUS asks, and its generated configuration (docs/network.md)."""
