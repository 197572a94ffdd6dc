"""Database engines and pools: below the domain (tables/), above the drivers."""
