"""
Tests for L{fts.pbxsim.agi_commands}: AGI argument splitting, the command
table and variable evaluation, as res_agi does them.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.pbxsim.agi_commands import VariableScope, find_command, parse_args, usage_lines
from fts.pbxsim.channel import UP, Channel


class ParseArgsTests(SynchronousTestCase):
    """
    L{parse_args}.
    """

    def test_blanks(self):
        """
        Spaces and tabs separate words; several count as one.
        """
        self.assertEqual(parse_args("WAIT  FOR\tDIGIT 1000 "), ["WAIT", "FOR", "DIGIT", "1000"])

    def test_quotes(self):
        """
        Double quotes group words; an empty pair is an empty argument.
        """
        self.assertEqual(parse_args('SET VARIABLE S "playing message"'), ["SET", "VARIABLE", "S", "playing message"])
        self.assertEqual(parse_args('STREAM FILE beep ""'), ["STREAM", "FILE", "beep", ""])

    def test_quotes_inside_word(self):
        """
        A quote inside a word does not start a new argument.
        """
        self.assertEqual(parse_args('a"b c"d'), ["ab cd"])

    def test_backslash(self):
        """
        A backslash makes the next character literal.
        """
        self.assertEqual(parse_args(r'X a\ b \"q\"'), ["X", "a b", '"q"'])

    def test_empty(self):
        """
        An empty line has no arguments.
        """
        self.assertEqual(parse_args(""), [])


class CommandTableTests(SynchronousTestCase):
    """
    L{find_command} and usage texts.
    """

    def test_longest_match(self):
        """
        GET FULL VARIABLE is not GET VARIABLE; case does not matter.
        """
        self.assertEqual(find_command(["get", "full", "variable", "x"]).verb, "GET FULL VARIABLE")
        self.assertEqual(find_command(["GET", "VARIABLE", "x"]).verb, "GET VARIABLE")

    def test_unknown(self):
        """
        Unknown verbs and incomplete ones are not found (510).
        """
        self.assertIsNone(find_command(["FOO", "BAR"]))
        self.assertIsNone(find_command(["STREAM"]))
        self.assertIsNone(find_command([]))

    def test_dead_flags(self):
        """
        Only the verbs that run on a dead channel say so.
        """
        dead = {c.verb for c in map(find_command, (v.split() for v in [
            "GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "EXEC", "VERBOSE", "NOOP",
            "ANSWER", "HANGUP", "STREAM FILE", "WAIT FOR DIGIT", "GET DATA", "CHANNEL STATUS",
        ])) if c.dead}
        self.assertEqual(dead, {"GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "EXEC", "VERBOSE", "NOOP"})

    def test_stream_file_usage(self):
        """
        The 520 reply of STREAM FILE is the recorded text, in two writes.
        """
        first, second = usage_lines(find_command(["STREAM", "FILE"]))
        self.assertEqual(first, b"520-Invalid command syntax.  Proper usage follows:\n")
        self.assertTrue(second.startswith(b"Send the given file, allowing playback"))
        self.assertTrue(second.endswith(b"    <value>FAILED</value>\n520 End of proper usage.\n"))


class VariableScopeTests(SynchronousTestCase):
    """
    L{VariableScope}.
    """

    def setUp(self):
        self.channel = Channel("Local/1001@callee-sim-00000000;1", "1.0", "1.0", UP, "fts-campaign", "1001", 0)
        self.channel.set_caller("5550100", "FTS Dialer")
        self.channel.variables["FTS_CONTACT"] = "42"
        self.scope = VariableScope(self.channel, {"G": "global"}, lambda: 1795347861.5)

    def test_variables(self):
        """
        Channel variables first, then built-ins, then globals; unset is None.
        """
        self.assertEqual(self.scope.read("FTS_CONTACT"), "42")
        self.assertEqual(self.scope.read("HANGUPCAUSE"), "0")
        self.assertEqual(self.scope.read("G"), "global")
        self.assertIsNone(self.scope.read("NO_SUCH_VARIABLE"))

    def test_functions(self):
        """
        CHANNEL(), CALLERID() and LEN() work; unknown functions are None.
        """
        self.assertEqual(self.scope.read("CHANNEL(name)"), "Local/1001@callee-sim-00000000;1")
        self.assertEqual(self.scope.read("CALLERID(num)"), "5550100")
        self.assertEqual(self.scope.read("CALLERID(all)"), '"FTS Dialer" <5550100>')
        self.assertEqual(self.scope.read("LEN(${FTS_CONTACT})"), "2")
        self.assertIsNone(self.scope.read("NOSUCHFUNC(x)"))

    def test_substitute(self):
        """
        ${...} expressions are expanded, nested ones too; unset ones vanish.
        """
        self.assertEqual(self.scope.substitute("${CALLERID(num)} ${CALLERID(name)}"), "5550100 FTS Dialer")
        self.assertEqual(self.scope.substitute("[${DIALSTATUS}]"), "[]")
        self.channel.variables["WHICH"] = "FTS_CONTACT"
        self.assertEqual(self.scope.substitute("${${WHICH}}"), "42")
        self.assertEqual(self.scope.substitute("${OPEN"), "${OPEN")
