"""
Tests for L{fts.tap}: the command line of C{twistd fts}.
"""

from twisted.trial import unittest

from fts import tap


class OptionsTests(unittest.SynchronousTestCase):
    def test_options_reach_the_config(self):
        """
        Each command-line option sets its configuration key.
        """
        options = tap.Options()
        options.parseOptions(["--data-dir", "/d", "--dsn", "host=x", "--pbx", "ami",
                              "--web", "tcp:9", "--agi", "tcp:10"])
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[ami:a]\n")
        options["config"] = path
        c = tap.load_config(options, environ={})
        self.assertEqual((c.fts.data_dir, c.database.dsn, c.pbx.mode, c.web.endpoint,
                          c.agi.endpoint), ("/d", "host=x", "ami", "tcp:9", "tcp:10"))

    def test_config_from_environment(self):
        """
        FTS_CONFIG names the file when --config is not given.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[dialer]\ncps = 7\n")
        options = tap.Options()
        options.parseOptions([])
        c = tap.load_config(options, environ={"FTS_CONFIG": path})
        self.assertEqual(c.dialer.cps, 7)

    def test_bad_config_exits(self):
        """
        A bad value ends start-up with SystemExit and a one-line message.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[dialer]\nmax_channels = -3\n")
        options = tap.Options()
        options.parseOptions(["--config", path])
        e = self.assertRaises(SystemExit, tap.load_config, options, environ={})
        self.assertEqual(
            str(e),
            f"fts: configuration error: {path}:[dialer] max_channels = '-3': "
            "expected a whole number from 1 to 1000000")
