"""Fingerprint throughput benchmark: `python -m bench.fingerprint`."""
