"""Every write of the registry goes through these services, each in one transaction."""
