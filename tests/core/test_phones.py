"""
Tests for L{fts.core.phones}: phone numbers normalised the one way FTS
dials and compares them.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.core.phones import PhoneError, PhoneRules, normalise

# (written, default country code, normalised)
VALID = [
    # Separators dropped.
    ("0612345678", "", "0612345678"),
    ("06 12 34 56 78", "", "0612345678"),
    ("06.12.34.56.78", "", "0612345678"),
    ("06-12-34-56-78", "", "0612345678"),
    ("(555) 123-4567", "", "5551234567"),
    ("  555/123 4567\t", "", "5551234567"),
    ("06\u00a012\u202f34 56 78", "", "0612345678"),
    # International forms: + and 00, country code kept whatever the default.
    ("+33 6 12 34 56 78", "", "33612345678"),
    ("+33 6 12 34 56 78", "1", "33612345678"),
    ("0033 6 12 34 56 78", "44", "33612345678"),
    ("+44 (0)20 7946 0000", "", "442079460000"),
    ("0044 (0) 20 7946 0000", "33", "442079460000"),
    ("011 44 20 7946 0000", "1", "442079460000"),
    # National trunk 0 replaced by the default country code.
    ("06 12 34 56 78", "33", "33612345678"),
    ("020 7946 0000", "44", "442079460000"),
    ("(0)20 7946 0000", "44", "442079460000"),
    # Italy keeps its zero after the country code.
    ("06 1234 5678", "39", "390612345678"),
    # Digits without the country code get it; with it, stay.
    ("555 123 4567", "1", "15551234567"),
    ("1 555 123 4567", "1", "15551234567"),
    ("612345678", "33", "33612345678"),
    ("33612345678", "33", "33612345678"),
    # Without a default country code national numbers stay national.
    ("5551234567", "", "5551234567"),
]

# (written, default country code, words the reason contains)
INVALID = [
    ("", "33", "no phone number"),
    ("   ", "33", "no phone number"),
    ("abc", "33", "contains 'a'"),
    ("06 12 34 56 78 x12", "33", "contains 'x'"),
    ("0612<script>", "", "contains '<'"),
    ("06+12345678", "", "'+' may only start"),
    ("+0612345678", "", "never starts with 0"),
    ("00 0612345678", "", "never starts with 0"),
    ("+", "", "no phone number"),
    ("3.36123E+10", "33", "scientific notation"),
    ("12", "", "too short: 2 digits, a phone number has at least 3"),
    ("+33 6 12 34 56 78 90 12 34", "", "too long: 17 digits, a phone number has at most 15"),
    ("٠٦١٢٣٤٥٦٧٨", "", "contains '٠'"),
]


class NormaliseTests(SynchronousTestCase):
    def test_valid_numbers(self):
        """
        Every way of writing a number in the table gives its normalised
        digits.
        """
        for text, cc, expected in VALID:
            with self.subTest(text=text, cc=cc):
                self.assertEqual(normalise(text, cc, 3, 15), expected)

    def test_invalid_numbers(self):
        """
        Texts that are not dialable numbers raise L{PhoneError} whose
        reason tells the operator why.
        """
        for text, cc, words in INVALID:
            with self.subTest(text=text, cc=cc):
                with self.assertRaises(PhoneError) as caught:
                    normalise(text, cc, 3, 15)
                self.assertIn(words, caught.exception.reason)
                self.assertEqual(caught.exception.code, "invalid_phone")

    def test_none(self):
        """
        A missing value is "no phone number".
        """
        self.assertRaises(PhoneError, normalise, None)

    def test_length_limits_apply_after_the_country_code(self):
        """
        The length limits count the digits stored, country code included.
        """
        self.assertEqual(normalise("612345", "33", 8, 8), "33612345")
        self.assertRaises(PhoneError, normalise, "612345", "33", 9, 15)
        self.assertRaises(PhoneError, normalise, "612345", "33", 3, 7)


class PhoneRulesTests(SynchronousTestCase):
    def test_country_code_forms(self):
        """
        The default country code may be written with a + or 00; none is "".
        """
        self.assertEqual(PhoneRules("+33").default_country_code, "33")
        self.assertEqual(PhoneRules("0044").default_country_code, "44")
        self.assertEqual(PhoneRules(None).default_country_code, "")
        self.assertEqual(PhoneRules("").default_country_code, "")

    def test_bad_country_code(self):
        """
        A country code that is not 1 to 3 digits is refused at once.
        """
        for bad in ("3a", "0", "1234"):
            with self.subTest(bad=bad):
                self.assertRaises(ValueError, PhoneRules, bad)

    def test_bad_limits(self):
        """
        The minimum length cannot exceed the maximum.
        """
        self.assertRaises(ValueError, PhoneRules, "", 10, 9)

    def test_normalise_with_rules(self):
        """
        L{PhoneRules.normalise} applies the configured rules.
        """
        rules = PhoneRules("33", 11, 11)
        self.assertEqual(rules.normalise("06 12 34 56 78"), "33612345678")
        self.assertRaises(PhoneError, rules.normalise, "+1 555 123 45678")

    def test_from_settings(self):
        """
        The rules come from the [dialer] section of the configuration.
        """
        from fts.config import load

        config = load(environ={"FTS_DIALER_DEFAULT_COUNTRY_CODE": "44",
                              "FTS_DIALER_MIN_PHONE_DIGITS": "7"})
        rules = PhoneRules.from_settings(config.dialer)
        self.assertEqual(rules, PhoneRules("44", 7, 15))
