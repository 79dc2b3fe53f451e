"""The AI team's client: hash images locally, screen them through the API, keep the receipts.

Plain Python (no Django): `python -m registry.client screen PATH... --api URL --purpose P`.
"""
