"""Reads of the registry: what a caller may see, and what the gatekeeper needs to decide."""
