"""Login lockouts (django-axes): an operator lifts one before its cool-off ends."""

from axes.utils import reset


def login_unlock(*, username: str = "", address: str = "") -> int:
    """Forget the failed logins of an account or an address; the number of records removed."""
    if not username and not address:
        return 0
    return reset(ip=address or None, username=username or None, ip_or_username=True)
