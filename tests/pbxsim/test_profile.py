"""
Tests for L{fts.pbxsim.profile}: callee models from JSON files.
"""

import json

from twisted.trial.unittest import SynchronousTestCase

from fts.pbxsim.profile import load_profile, named_profile, profile_from_dict

EXAMPLE = {
    "seed": 1,
    "outcomes": {"answered": 60, "busy": 10, "no_answer": 30},
    "ring_seconds": [2, 8],
    "behaviours": {
        "listen": {"weight": 3, "hangup_after": [20, 60]},
        "keys": {"weight": 1, "hangup_after": [8, 30], "key_after": [2, 8], "digits": {"1": 70, "2": 30}},
    },
    "overrides": [
        {"prefix": "2", "outcome": "busy"},
        {"prefix": "1", "length": 4, "ring_seconds": 0, "hangup_after": 6.5, "keys": [[1.0, "1"]], "amd": "MACHINE"},
    ],
    "sounds": {"default": 2.5, "durations": {"welcome": 7.5}},
    "transfer": {"status": "BUSY", "ring_seconds": 1},
}


class ProfileTests(SynchronousTestCase):
    """
    Loading callee profiles.
    """

    def write(self, content):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(content)
        return path

    def test_load(self):
        """
        Every part of the example file is used.
        """
        profile = load_profile(self.write(json.dumps(EXAMPLE)))
        self.assertEqual(profile.callee.plan("2001").outcome, "busy")
        plan = profile.callee.plan("1001")
        self.assertEqual((plan.outcome, plan.keys, plan.amd_status), ("answered", [(1.0, "1")], "MACHINE"))
        self.assertAlmostEqual(plan.hangup_after, 6.5)
        self.assertEqual(profile.sounds.seconds("welcome"), 7.5)
        self.assertEqual(profile.sounds.seconds("other"), 2.5)
        self.assertEqual(profile.transfer.status, "BUSY")
        self.assertEqual([b.name for b in profile.callee.behaviours], ["listen", "keys"])

    def test_seed_argument_wins(self):
        """
        A seed given to the loader overrides the file's.
        """
        self.assertEqual(load_profile(self.write(json.dumps(EXAMPLE)), seed=9).callee.seed, 9)

    def test_unknown_key(self):
        """
        An unknown key is refused, naming it and where it is.
        """
        data = dict(EXAMPLE, overrides=[{"prefix": "1", "outcom": "busy"}])
        error = self.assertRaises(ValueError, profile_from_dict, data)
        self.assertIn("overrides[0]", str(error))
        self.assertIn("outcom", str(error))

    def test_bad_json(self):
        """
        A file that is not JSON is refused, naming the file.
        """
        path = self.write("{nope")
        error = self.assertRaises(ValueError, load_profile, path)
        self.assertIn(path, str(error))

    def test_named(self):
        """
        The built-in profiles exist; others are refused.
        """
        self.assertEqual(named_profile("transcript").callee.plan("2001").outcome, "busy")
        self.assertTrue(named_profile("random", seed=1).callee.outcomes)
        self.assertRaises(ValueError, named_profile, "nope")
