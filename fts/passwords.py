"""
Password hashing with scrypt (memory-hard, in the standard library).

The stored form is ``scrypt$n$r$p$salt$hash`` (salt and hash in hex), so
the cost can be raised later without breaking old hashes.  Hashing takes
tens of milliseconds by design: call it off the reactor thread where it runs
per request (C{deferToThread}).
"""

import hashlib
import hmac
import secrets

N, R, P = 2 ** 14, 8, 1


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_password(password, stored):
    """
    Whether C{password} matches the C{stored} hash (constant-time compare);
    a malformed stored hash never matches.
    """
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt),
                                  n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2)
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


def generate_password():
    """
    A random password an operator can type: 16 characters of URL-safe text.
    """
    return secrets.token_urlsafe(12)
