"""
Reading submitted forms: every field is checked, and every problem is kept,
keyed by field name, in words for the operator, so a page can show each one
at its field and store nothing.
"""

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n]")


class Form:
    """
    The fields of a submitted form (C{application/x-www-form-urlencoded} or
    C{multipart/form-data}), read as text.

    @ivar errors: field name -> message, for every field that was wrong.
    @ivar values: field name -> the text as submitted (for redisplay).
    """

    def __init__(self, request):
        self.errors = {}
        self.values = {}
        self._raw = {}
        for key, values in (request.args or {}).items():
            try:
                name = key.decode("utf-8")
                texts = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                self.errors[key.decode("utf-8", "replace")] = "This is not valid UTF-8 text."
                continue
            self._raw[name] = texts
            self.values[name] = texts[0] if texts else ""

    @property
    def ok(self):
        return not self.errors

    def raw(self, name):
        """
        The first submitted value of C{name}, unchecked, or L{None}.
        """
        values = self._raw.get(name)
        return values[0] if values else None

    def all(self, name):
        """
        Every submitted value of C{name} (checkboxes, multiple selects).
        """
        return list(self._raw.get(name, ()))

    def error(self, name, message):
        self.errors.setdefault(name, message)

    def text(self, name, label, required=True, max_length=200, multiline=False,
             strip=True):
        """
        A text field: at most C{max_length} characters, no control
        characters (nor line breaks unless C{multiline}).  Missing and not
        required: C{""}.
        """
        value = self.raw(name)
        if value is None:
            value = ""
        if strip:
            value = value.strip()
        if not value:
            if required:
                self.error(name, f"{label} is required.")
            return value
        if len(value) > max_length:
            self.error(name, f"{label} is longer than {max_length} characters.")
        elif _CONTROL.search(value) or (not multiline and _LINE_BREAK.search(value)):
            self.error(name, f"{label} contains control characters.")
        return value

    def choice(self, name, label, choices, required=True):
        """
        One of C{choices} (an iterable of allowed texts).
        """
        value = (self.raw(name) or "").strip()
        if not value and not required:
            return None
        if value not in choices:
            self.error(name, f"Choose a {label.lower()}: " + ", ".join(choices) + ".")
            return None
        return value

    def integer(self, name, label, low=None, high=None, required=True):
        value = (self.raw(name) or "").strip()
        if not value:
            if required:
                self.error(name, f"{label} is required.")
            return None
        try:
            number = int(value)
        except ValueError:
            self.error(name, f"{label} must be a whole number.")
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            self.error(name, f"{label} must be from {low} to {high}.")
            return None
        return number

    def checkbox(self, name):
        return (self.raw(name) or "") not in ("", "0", "off", "no")

    def password(self, name, label, confirm=None, min_length=10, max_length=200):
        """
        A new password: long enough, and equal to the C{confirm} field when
        given.  Never stripped.
        """
        value = self.raw(name) or ""
        if len(value) < min_length:
            self.error(name, f"{label} must be at least {min_length} characters.")
        elif len(value) > max_length:
            self.error(name, f"{label} is longer than {max_length} characters.")
        elif confirm is not None and value != (self.raw(confirm) or ""):
            self.error(confirm, "The two passwords differ.")
        return value


USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def username(form, name="username"):
    """
    A username: letters, digits and C{. _ @ -}, starting with a letter or
    digit, at most 64 characters.
    """
    value = form.text(name, "Username", max_length=64)
    if value and name not in form.errors and not USERNAME.match(value):
        form.error(name, "A username has letters, digits and . _ @ - only, and starts"
                         " with a letter or digit.")
    return value
