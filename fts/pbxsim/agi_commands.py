"""
The Asterisk side of AGI commands, pure parts: splitting a command line into
arguments exactly as res_agi does, the command table (which verbs exist,
which still run on a dead channel, their usage text), the reply texts, and
channel variable / function / C{${...}} evaluation.

The blocking commands (STREAM FILE, WAIT FOR DIGIT, EXEC ...) are in
L{fts.pbxsim.agi_operations}; the session that runs them is
L{fts.pbxsim.agi_client}.
"""

import attr

__all__ = [
    "parse_args",
    "CommandSpec",
    "COMMANDS",
    "find_command",
    "usage_lines",
    "INVALID",
    "DEAD",
    "VariableScope",
    "SUCCESS",
    "FAILURE",
    "OTHER",
]

INVALID = b"510 Invalid or unknown command\n"
DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
USAGE_START = b"520-Invalid command syntax.  Proper usage follows:\n"
USAGE_END = b"520 End of proper usage.\n"

# How a command's outcome shows in AGIExecEnd (ResultCode, Result): the
# handler returned RESULT_SUCCESS, RESULT_FAILURE, or something else (EXEC
# passes the application's return value through).
SUCCESS = (200, "Success")
FAILURE = (-1, "Failure")
OTHER = (200, "Unknown Result")

MAX_ARGS = 128


def parse_args(line):
    """
    Split an AGI command line into arguments the way res_agi's parse_args
    does: blanks separate words, double quotes group (and C{""} is an empty
    argument), a backslash makes the next character literal.
    """
    if '"' not in line and "\\" not in line:
        # No quoting or escaping: blanks (space, tab) separate words.
        return [word for word in line.replace("\t", " ").split(" ") if word]
    args = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                if len(args) < MAX_ARGS - 1:
                    args.append([])
                whitespace = False
            continue
        if (ch == " " or ch == "\t") and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            if len(args) >= MAX_ARGS - 1:
                escaped = False
                continue
            args.append([])
            whitespace = False
        args[-1].append(ch)
        escaped = False
    return ["".join(a) for a in args]


@attr.frozen
class CommandSpec:
    """
    One AGI command.

    @ivar words: its words, upper case (C{("STREAM", "FILE")}).
    @ivar handler: the name of the session method that runs it.
    @ivar dead: whether it runs on a dead channel (else 511).
    @ivar usage: the text between the C{520-} and C{520 } lines.
    """

    words: tuple
    handler: str
    dead: bool
    usage: str

    @property
    def verb(self):
        return " ".join(self.words)


_STREAM_USAGE = (
    "Send the given file, allowing playback to be interrupted by the given digits, "
    "if any. Returns <literal>0</literal> if playback completes without a digit being "
    "pressed, or the ASCII numerical value of the digit if one was pressed, or "
    "<literal>-1</literal> on error or if the channel was disconnected. If musiconhold "
    "is playing before calling stream file it will be automatically stopped and will "
    "not be restarted after completion.\n"
    "It sets the following channel variables upon completion:\n"
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    "    <value>SUCCESS</value>\n"
    "    <value>FAILED</value>\n"
)


def _spec(words, handler, dead, usage):
    return CommandSpec(tuple(words.split()), handler, dead, usage)


COMMANDS = (
    _spec("ANSWER", "answer", False, "Answers channel if not already in answer state. Returns <literal>-1</literal> on channel failure, or <literal>0</literal> if successful.\n"),
    _spec("CHANNEL STATUS", "channel_status", False, "Returns the status of the specified <replaceable>channelname</replaceable>. If no channel name is given then returns the status of the current channel.\n"),
    _spec("DATABASE DEL", "database_del", True, "Deletes an entry in the Asterisk database for a given <replaceable>family</replaceable> and <replaceable>key</replaceable>.\n"),
    _spec("DATABASE DELTREE", "database_deltree", True, "Deletes a <replaceable>family</replaceable> or specific <replaceable>keytree</replaceable> within a <replaceable>family</replaceable> in the Asterisk database.\n"),
    _spec("DATABASE GET", "database_get", True, "Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable> and <replaceable>key</replaceable>.\n"),
    _spec("DATABASE PUT", "database_put", True, "Adds or updates an entry in the Asterisk database for a given <replaceable>family</replaceable>, <replaceable>key</replaceable>, and <replaceable>value</replaceable>.\n"),
    _spec("EXEC", "exec_", True, "Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>.\n"),
    _spec("GET DATA", "get_data", False, "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"),
    _spec("GET FULL VARIABLE", "get_full_variable", True, "Evaluates the given <replaceable>expression</replaceable> against the channel specified by <replaceable>channelname</replaceable>, or the current channel if <replaceable>channelname</replaceable> is not provided.\n"),
    _spec("GET OPTION", "get_option", False, "Behaves similar to STREAM FILE but used with a timeout option.\n"),
    _spec("GET VARIABLE", "get_variable", True, "Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the variable in parentheses.\n"),
    _spec("HANGUP", "hangup", False, "Hangs up the specified channel. If no channel name is given, hangs up the current channel\n"),
    _spec("NOOP", "noop", True, "Does nothing.\n"),
    _spec("SAY ALPHA", "say_alpha", False, "Say a given character string, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY DATE", "say_date", False, "Say a given date, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY DATETIME", "say_datetime", False, "Say a given time, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY DIGITS", "say_digits", False, "Say a given digit string, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY NUMBER", "say_number", False, "Say a given number, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY PHONETIC", "say_alpha", False, "Say a given character string with phonetics, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SAY TIME", "say_time", False, "Say a given time, returning early if any of the given DTMF digits are received on the channel.\n"),
    _spec("SET AUTOHANGUP", "set_autohangup", False, "Cause the channel to automatically hangup at <replaceable>time</replaceable> seconds in the future. Of course it can be hungup before then as well. Setting to <literal>0</literal> will cause the autohangup feature to be disabled on this channel.\n"),
    _spec("SET CALLERID", "set_callerid", False, "Changes the callerid of the current channel.\n"),
    _spec("SET CONTEXT", "set_context", False, "Sets the context for continuation upon exiting the application.\n"),
    _spec("SET EXTENSION", "set_extension", False, "Changes the extension for continuation upon exiting the application.\n"),
    _spec("SET MUSIC", "set_music", False, "Enables/Disables the music on hold generator. If <replaceable>class</replaceable> is not specified, then the <literal>default</literal> music on hold class will be used.\n"),
    _spec("SET PRIORITY", "set_priority", False, "Changes the priority for continuation upon exiting the application. The priority must be a valid priority or label.\n"),
    _spec("SET VARIABLE", "set_variable", True, "Sets a variable to the current channel.\n"),
    _spec("STREAM FILE", "stream_file", False, _STREAM_USAGE),
    _spec("VERBOSE", "verbose", True, "Sends <replaceable>message</replaceable> to the console via verbose message system. <replaceable>level</replaceable> is the verbose level (1-4). Always returns <literal>1</literal>\n"),
    _spec("WAIT FOR DIGIT", "wait_for_digit", False, "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or the numerical value of the ascii of the digit if one is received. Use <literal>-1</literal> for the <replaceable>timeout</replaceable> value if you desire the call to block indefinitely.\n"),
)

# By first word, longest command first (GET FULL VARIABLE before GET ...).
_BY_FIRST = {}
for _spec in sorted(COMMANDS, key=lambda c: -len(c.words)):
    _BY_FIRST.setdefault(_spec.words[0], []).append(_spec)
del _spec


def find_command(argv):
    """
    The L{CommandSpec} whose words start C{argv} (case-insensitively), or
    C{None} (510).
    """
    if not argv:
        return None
    candidates = _BY_FIRST.get(argv[0].upper())
    if not candidates:
        return None
    upper = tuple(a.upper() for a in argv[:3])
    for spec in candidates:
        n = len(spec.words)
        if upper[:n] == spec.words:
            return spec
    return None


def usage_lines(spec):
    """
    The two writes of a 520 reply (the real one comes in two reads).
    """
    return [USAGE_START, spec.usage.encode("utf-8") + USAGE_END]


class VariableScope:
    """
    Read channel variables, built-in variables and dialplan functions for a
    channel, as C{GET VARIABLE} and C{GET FULL VARIABLE} do.

    @param channel: the L{fts.pbxsim.channel.Channel}.
    @param globals_: the PBX's global variables (dict).
    @param epoch: a callable returning the current time in seconds.
    """

    def __init__(self, channel, globals_, epoch):
        self.channel = channel
        self.globals = globals_
        self.epoch = epoch

    def read(self, name):
        """
        The value of C{name} (a variable or a C{FUNC(args)} call), or
        C{None} when unset / unknown.
        """
        if name.endswith(")"):
            return self.function(name)
        channel = self.channel
        value = channel.variables.get(name)
        if value is not None:
            return value
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin
        return self.globals.get(name)

    def _builtin(self, name):
        channel = self.channel
        if name == "CHANNEL":
            return channel.name
        if name == "UNIQUEID":
            return channel.uniqueid
        if name == "HANGUPCAUSE":
            return str(channel.hangup_cause)
        if name == "EXTEN":
            return channel.exten
        if name == "CONTEXT":
            return channel.context
        if name == "PRIORITY":
            return str(channel.priority)
        if name == "EPOCH":
            return str(int(self.epoch()))
        if name == "CALLINGPRES":
            return "0"
        if name == "SYSTEMNAME":
            return ""
        return None

    def function(self, call):
        """
        Evaluate C{FUNC(args)}; C{None} for a function this simulator does
        not know (Asterisk: "Function X not registered").
        """
        name, _, rest = call.partition("(")
        args = rest[:-1]
        name = name.upper()
        channel = self.channel
        if name == "CHANNEL":
            field = args.strip().lower()
            values = {
                "name": channel.name,
                "uniqueid": channel.uniqueid,
                "linkedid": channel.linkedid,
                "language": channel.language,
                "context": channel.context,
                "exten": channel.exten,
                "channeltype": "Local",
                "state": _STATE_WORDS.get(channel.state, "Unknown"),
                "accountcode": channel.accountcode,
            }
            return values.get(field)
        if name in ("CALLERID", "CONNECTEDLINE"):
            field = args.strip().lower()
            if name == "CALLERID":
                num, nm = channel.caller_num, channel.caller_name
            else:
                num, nm = channel.connected_num, channel.connected_name
            num = "" if num == "<unknown>" else num
            nm = "" if nm == "<unknown>" else nm
            if field in ("num", "number"):
                return num
            if field == "name":
                return nm
            if field == "all":
                return '"%s" <%s>' % (nm, num)
            return None
        if name == "LEN":
            return str(len(self.substitute(args)))
        if name == "EXISTS":
            return "1" if self.read(args) else "0"
        return None

    def substitute(self, text):
        """
        Replace every C{${...}} in C{text} (nested allowed) with its value
        (unset: empty), as C{GET FULL VARIABLE} does.
        """
        out = []
        i = 0
        n = len(text)
        while i < n:
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            depth = 1
            j = start + 2
            while j < n and depth:
                if text.startswith("${", j):
                    depth += 1
                    j += 2
                    continue
                if text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                # Unterminated: Asterisk copies what it cannot expand.
                out.append(text[start:])
                break
            inner = self.substitute(text[start + 2 : j - 1])
            value = self.read(inner)
            out.append(value if value is not None else "")
            i = j
        return "".join(out)


_STATE_WORDS = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
