"""
Tests for L{fts.config}.
"""

import os

from twisted.trial import unittest

from fts import config
from fts.config import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LoadTests(unittest.SynchronousTestCase):
    def write(self, text):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_defaults(self):
        """
        With no file, environment or option, every key has its documented
        default: embedded database, simulator, loopback endpoints.
        """
        c = config.load(None, environ={})
        self.assertEqual(c.fts.data_dir, "./var")
        self.assertIsNone(c.database.dsn)
        self.assertEqual(c.pbx.mode, "sim")
        self.assertEqual(c.web.endpoint, "tcp:8080:interface=127.0.0.1")
        self.assertEqual(c.agi.endpoint, "tcp:4573:interface=127.0.0.1:backlog=1024")
        self.assertEqual(c.dialer.max_channels, 200)
        self.assertEqual(c.ami_servers, ())

    def test_precedence(self):
        """
        The command line beats the environment, which beats the file, which
        beats the default; the source of each value is recorded.
        """
        path = self.write("[web]\nendpoint = tcp:1\n[agi]\nendpoint = tcp:2\n"
                          "[fts]\ndata_dir = /file\n")
        c = config.load(path, environ={"FTS_AGI_ENDPOINT": "tcp:3", "FTS_DATA_DIR": "/env"},
                        options={"data-dir": "/option"})
        self.assertEqual(c.web.endpoint, "tcp:1")
        self.assertEqual(c.agi.endpoint, "tcp:3")
        self.assertEqual(c.fts.data_dir, "/option")
        self.assertEqual(c.sources["web", "endpoint"], f"{path}:[web] endpoint")
        self.assertEqual(c.sources["agi", "endpoint"], "environment FTS_AGI_ENDPOINT")
        self.assertEqual(c.sources["fts", "data_dir"], "option --data-dir")
        self.assertEqual(c.sources["dialer", "cps"], "default")

    def test_bad_value_in_file(self):
        """
        A wrong value names the file, section and key, the value, and what is
        expected, on one line.
        """
        path = self.write("[dialer]\nmax_channels = -3\n")
        e = self.assertRaises(ConfigError, config.load, path, environ={})
        self.assertEqual(
            str(e),
            f"{path}:[dialer] max_channels = '-3': expected a whole number from 1 to 1000000")
        self.assertNotIn("\n", str(e))

    def test_bad_value_in_environment(self):
        """
        A wrong environment value names the variable.
        """
        e = self.assertRaises(ConfigError, config.load, None,
                              environ={"FTS_PBX_MODE": "asterisk"})
        self.assertEqual(str(e), "environment FTS_PBX_MODE = 'asterisk': expected one of sim, ami")

    def test_embedded_shared_buffers(self):
        """
        The embedded server's memory is C{auto} or an amount in
        PostgreSQL's units, written as PostgreSQL spells them; anything else
        (or an amount out of range) is refused, saying what is expected.
        """
        self.assertEqual(config.load(None, environ={}).database.embedded_shared_buffers,
                         "auto")
        for given, read in (("512mb", "512MB"), (" 4 GB ", "4GB"), ("AUTO", "auto"),
                            ("16384kB", "16384kB")):
            c = config.load(None, environ={"FTS_DATABASE_EMBEDDED_SHARED_BUFFERS": given})
            self.assertEqual(c.database.embedded_shared_buffers, read)
        for bad, expected in (("lots", "auto, or an amount such as 512MB or 4GB"),
                              ("512", "auto, or an amount such as 512MB or 4GB"),
                              ("1MB", "an amount from 16MB to 1TB, or auto"),
                              ("2TB", "an amount from 16MB to 1TB, or auto")):
            e = self.assertRaises(ConfigError, config.load, None,
                                  environ={"FTS_DATABASE_EMBEDDED_SHARED_BUFFERS": bad})
            self.assertIn(f"FTS_DATABASE_EMBEDDED_SHARED_BUFFERS = {bad!r}: expected {expected}",
                          str(e))

    def test_bad_option(self):
        """
        A wrong command-line value names the option.
        """
        e = self.assertRaises(ConfigError, config.load, None, environ={},
                              options={"web": "8080"})
        self.assertIn("option --web = '8080'", str(e))

    def test_unknown_key_and_section(self):
        """
        Misspelt keys and sections are refused, not ignored.
        """
        e = self.assertRaises(ConfigError, config.load,
                              self.write("[dialer]\nmax_chanels = 3\n"), environ={})
        self.assertIn("[dialer] max_chanels", str(e))
        self.assertIn("max_channels", str(e))
        e = self.assertRaises(ConfigError, config.load,
                              self.write("[dailer]\nmax_channels = 3\n"), environ={})
        self.assertIn("[dailer]", str(e))

    def test_not_ini(self):
        """
        A file that is not INI is one clear error.
        """
        e = self.assertRaises(ConfigError, config.load, self.write("max_channels=3\n"),
                              environ={})
        self.assertIn("a valid INI file", str(e))

    def test_missing_file(self):
        """
        A missing file is named.
        """
        e = self.assertRaises(ConfigError, config.load, "/nonexistent/fts.ini", environ={})
        self.assertIn("/nonexistent/fts.ini", str(e))

    def test_several_ami_servers(self):
        """
        Each [ami:NAME] section is a server; the environment overrides a
        server's key by FTS_AMI_NAME_KEY.
        """
        path = self.write(
            "[pbx]\nmode = ami\n"
            "[ami:pbx-1]\nhost = 10.0.0.1\nsecret = s1\nmax_channels = 50\n"
            "[ami:pbx-2]\nhost = 10.0.0.2\nsecret = s2\n")
        c = config.load(path, environ={"FTS_AMI_PBX_2_MAX_CHANNELS": "70"})
        self.assertEqual([s.name for s in c.ami_servers], ["pbx-1", "pbx-2"])
        self.assertEqual(c.ami_servers[0].max_channels, 50)
        self.assertEqual(c.ami_servers[1].max_channels, 70)
        self.assertEqual(c.ami_servers[1].port, 5038)
        self.assertNotIn("s1", repr(c.ami_servers[0]))

    def test_ami_mode_needs_a_server(self):
        """
        mode = ami with no [ami:NAME] section is refused.
        """
        e = self.assertRaises(ConfigError, config.load, None, environ={"FTS_PBX_MODE": "ami"})
        self.assertIn("[ami:NAME]", str(e))

    def test_servers_must_exist(self):
        """
        [pbx] servers naming a missing section is refused.
        """
        path = self.write("[pbx]\nservers = a, b\n[ami:a]\n")
        e = self.assertRaises(ConfigError, config.load, path, environ={})
        self.assertIn("no [ami:b]", str(e))

    def test_dial_string_needs_number(self):
        """
        The default dial string must contain {number}.
        """
        e = self.assertRaises(ConfigError, config.load, None,
                              environ={"FTS_DIALER_DIAL_STRING": "PJSIP/trunk"})
        self.assertIn("{number}", str(e))

    def test_summary_masks_secrets(self):
        """
        The summary for the status page never shows secrets.
        """
        path = self.write("[mail]\npassword = hunter2\n[ami:x]\nsecret = s3cret\n")
        rows = config.load(path, environ={}).summary()
        text = repr(rows)
        self.assertNotIn("hunter2", text)
        self.assertNotIn("s3cret", text)
        self.assertIn(("mail", "password", "********", f"{path}:[mail] password"), rows)


class ExampleTests(unittest.SynchronousTestCase):
    def test_example_is_current(self):
        """
        etc/fts.ini.example documents every key with its default (it is
        generated from the key table: regenerate it with
        C{python -c 'import fts.config as c; print(c.example_text(), end="")'}).
        """
        with open(os.path.join(ROOT, "etc", "fts.ini.example")) as f:
            self.assertEqual(f.read(), config.example_text())

    def test_example_loads(self):
        """
        The example file itself is a valid configuration.
        """
        config.load(os.path.join(ROOT, "etc", "fts.ini.example"), environ={})
