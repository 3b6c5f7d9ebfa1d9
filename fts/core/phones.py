"""
Phone numbers as FTS stores, dials and compares them: digits only, with the
country code, checked for length.  Contacts and DNC entries go through the
same L{normalise}, so a number typed in the panel, uploaded in a DNC list
and found in a contact list compare equal however each was written.

The rules, in order:

 1. Blanks and the usual separators are dropped: spaces (also no-break and
    thin spaces), tabs, C{- . / ( )}.  Any other character refuses the
    number, naming the character ("x" of an extension, a letter, a stray
    quote).  A number a spreadsheet turned into scientific notation
    (C{3.36123E+10}) is refused with a hint, since its digits are lost.
 2. International form: a leading C{+}, or the international prefix C{00}
    (and C{011} when the default country code is C{1}, the North American
    prefix), means the digits that follow are the whole number, country
    code included.  A C{+} anywhere else is refused; a country code never
    starts with 0.  The optional trunk zero written C{(0)} after the country
    code (C{+44 (0)20 7946 0000}) is dropped.
 3. National form with the trunk prefix: when a default country code is
    configured, one leading C{0} is replaced by it (C{06 12 34 56 78} with
    C{33} gives C{33612345678}).  Italy (C{39}) keeps the zero, which is part
    of its numbers after the country code (C{06 1234 5678} -> C{390612345678}).
 4. Other digits: when a default country code is configured and the digits
    do not already start with it, it is prefixed (C{555 123 4567} with C{1}
    gives C{15551234567}; the zero a spreadsheet stripped from C{0612345678}
    gives C{612345678} -> C{33612345678}).  Digits that already start with
    the country code are taken as international (C{15551234567} stays).  So
    a national number written without its trunk zero whose first digits
    happen to equal the country code is ambiguous: such numbers must be
    written with their zero or in international form.  Without a default
    country code the digits are kept as written (a national number stays
    national, its zero included), and the dial string must suit them.
 5. The result must have from C{min_digits} to C{max_digits} digits (E.164
    allows 15).

Errors are L{PhoneError}s whose C{reason} is a sentence for the operator.
"""

import re

import attr

#: Characters dropped as separators.
_SEPARATORS = " \t\u00a0\u2007\u2009\u202f-./()"
_DROP = str.maketrans("", "", _SEPARATORS)
_SCIENTIFIC = re.compile(r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$")
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")
#: Country codes whose numbers keep the trunk zero after the country code.
_KEEPS_TRUNK_ZERO = frozenset({"39"})


class PhoneError(ValueError):
    """
    A text is not a phone number FTS can dial.

    @ivar reason: why, as a sentence for the operator.
    """

    code = "invalid_phone"

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _country_code(value):
    if value is None:
        return ""
    text = str(value).strip().lstrip("+")
    if text.startswith("00"):
        text = text[2:]
    if text and not (text.isascii() and text.isdigit() and len(text) <= 3
                     and text[0] != "0"):
        raise ValueError(f"default country code {value!r}: expected 1 to 3 digits, "
                         "not starting with 0 (for example 33 or 1)")
    return text


@attr.frozen
class PhoneRules:
    """
    The configured rules ([dialer] default_country_code, min_phone_digits,
    max_phone_digits).

    @ivar default_country_code: digits (a leading C{+} is accepted and
        dropped), or C{""} for none.
    """

    default_country_code: str = attr.ib(default="", converter=_country_code)
    min_digits: int = 3
    max_digits: int = 15

    def __attrs_post_init__(self):
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError(f"phone length limits {self.min_digits}..{self.max_digits}:"
                             " the minimum must be at least 1 and at most the maximum")

    @classmethod
    def from_settings(cls, dialer):
        """
        The rules of a configuration's C{[dialer]} section.
        """
        return cls(dialer.default_country_code, dialer.min_phone_digits,
                   dialer.max_phone_digits)

    def normalise(self, text):
        """
        L{normalise} with these rules.
        """
        return normalise(text, self.default_country_code, self.min_digits,
                         self.max_digits)


def normalise(text, default_country_code="", min_digits=3, max_digits=15):
    """
    The normalised form of a phone number as written (see the module
    docstring for the rules).

    @param default_country_code: digits, or C{""}/L{None} for none.
    @return: the digits.
    @raise PhoneError: it is not a phone number, with the reason.
    """
    if text is None:
        raise PhoneError("no phone number")
    # Fast path: digits and separators only, without an international
    # prefix (most numbers).  A "+" is not a separator, so it is never here.
    digits = text.translate(_DROP)
    if (digits.isdigit() and digits.isascii() and not digits.startswith("00")
            and not (default_country_code == "1" and digits.startswith("011"))):
        international = False
    else:
        digits, international = _clean(text, default_country_code)
    cc = default_country_code or ""
    if not international and cc:
        if digits.startswith("0"):
            digits = cc + (digits if cc in _KEEPS_TRUNK_ZERO else digits[1:])
        elif not digits.startswith(cc):
            digits = cc + digits
    n = len(digits)
    if n < min_digits:
        raise PhoneError(f"too short: {n} digit{'s' if n != 1 else ''}, "
                         f"a phone number has at least {min_digits}")
    if n > max_digits:
        raise PhoneError(f"too long: {n} digits, a phone number has at most {max_digits}")
    return digits


def _clean(text, default_country_code):
    """
    The digits of C{text} and whether they are in international form.
    """
    stripped = text.strip()
    if not stripped:
        raise PhoneError("no phone number")
    if _SCIENTIFIC.match(stripped):
        raise PhoneError(
            f"{stripped!r} is a number a spreadsheet wrote in scientific notation, "
            "which lost its last digits: format the column as text and export again")
    international = stripped.startswith("+")
    body = stripped[1:] if international else stripped
    digits = body.translate(_DROP)
    if not (digits.isdigit() and digits.isascii()):
        for ch in digits:
            if not ("0" <= ch <= "9"):
                if ch == "+":
                    raise PhoneError(f"{stripped!r}: a '+' may only start the number")
                raise PhoneError(f"{stripped!r} is not a phone number: "
                                 f"it contains {ch!r}")
        raise PhoneError("no phone number")
    prefix = 0
    if not international:
        if digits.startswith("00"):
            international, prefix = True, 2
        elif digits.startswith("011") and default_country_code == "1":
            international, prefix = True, 3
    if international and "(" in body:
        # "(0)" after the country code is the optional trunk zero.
        digits = _TRUNK_IN_BRACKETS.sub("", body, count=1).translate(_DROP)
    digits = digits[prefix:]
    if international:
        if not digits:
            raise PhoneError(f"{stripped!r}: no digits after the international prefix")
        if digits[0] == "0":
            raise PhoneError(f"{stripped!r}: a country code never starts with 0 "
                             "(after + or 00)")
    return digits, international
