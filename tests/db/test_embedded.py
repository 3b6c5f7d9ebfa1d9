"""
Tests for the sizing of L{fts.db.embedded}'s server (the server itself is
exercised by every database test and by L{tests.test_daemon}).
"""

from pathlib import Path

from twisted.trial import unittest

from fts.db import embedded

GB = 2 ** 30


class SharedBuffersTests(unittest.SynchronousTestCase):
    def test_given_amount_kept(self):
        """
        An amount from the configuration is passed to PostgreSQL as it is.
        """
        self.assertEqual(embedded.shared_buffers("512MB", memory=64 * GB), "512MB")

    def test_auto_is_a_quarter_within_bounds(self):
        """
        C{auto} is a quarter of the memory, never below PostgreSQL's default
        (128MB) nor above 2GB.
        """
        self.assertEqual(embedded.shared_buffers("auto", memory=2 * GB), "512MB")
        self.assertEqual(embedded.shared_buffers("auto", memory=GB // 4), "128MB")
        self.assertEqual(embedded.shared_buffers("auto", memory=24 * GB), "2048MB")

    def test_memory_limit_of_a_container(self):
        """
        The memory counted is the container's limit when it has one below
        the machine's memory, and the machine's otherwise.
        """
        limit = self.mktemp()
        with open(limit, "w") as f:
            f.write("1073741824\n")
        self.assertEqual(embedded.memory_limit(Path(limit)), GB)
        with open(limit, "w") as f:
            f.write("max\n")
        machine = embedded.memory_limit(Path(limit))
        self.assertGreater(machine, GB // 4)
        self.assertEqual(embedded.memory_limit(Path(self.mktemp())), machine)
