"""
The Asterisk side of FastAGI: the client that connects to an FTS FastAGI
server when a simulated call is answered, sends the C{agi_*} environment, and
answers each command as Asterisk 22 does.

Behaviour copied from the transcripts (README "FastAGI"):

  - the environment comes in two writes (up to C{agi_context}, then the rest);
  - one command at a time; a C{HANGUP} line is out-of-band: sent at once if
    the channel hangs up while no command runs, else about 40 ms after the
    running command returned;
  - the session survives the hangup ("dead" mode: live-only verbs get 511);
  - when the server half-closes, one more C{HANGUP} and the connection closes,
    even with the call still up;
  - keys pressed while no command listens are lost.

L{AGISession} holds this logic; L{AGIClientProtocol} is the thin Twisted shell.
"""

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

from . import agi_operations as ops
from . import events as ev
from .agi_commands import (
    DEAD,
    FAILURE,
    INVALID,
    OTHER,
    SUCCESS,
    VariableScope,
    find_command,
    parse_args,
    usage_lines,
)

__all__ = ["AGISession", "AGIClientProtocol", "HANGUP_NOTICE_DELAY"]

log = Logger()

HANGUP = b"HANGUP\n"
# Seen on the real PBX: HANGUP follows the reply of an interrupted command by
# about 40 ms.
HANGUP_NOTICE_DELAY = 0.04
USAGE = object()
_AGI = "agi"
_LIVE_RESULTS = {200: SUCCESS, -1: FAILURE}


def _reply(text):
    return text.encode("utf-8") + b"\n"


def _int(text, default=None):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class AGISession:
    """
    One FastAGI connection opened by a simulated call.

    @ivar dead: whether the session runs in dead mode (the C{h} extension,
        or after the C{HANGUP} notice).
    @ivar ended: whether the session is over.
    """

    def __init__(self, pbx, call, target, extension, dead):
        self.pbx = pbx
        self.call = call
        self.channel = call.one
        self.target = target
        self.extension = extension
        self.is_hangup_extension = dead
        self.dead = dead
        self.ended = False
        self.closing = False
        self.current = None
        self.executing = False
        self.queue = []
        self.sounds = pbx.sounds
        self.tally = pbx.tally
        self._write = None
        self._close = None
        self._notice = None
        self._autohangup = None
        self.scope = VariableScope(self.channel, pbx.globals, pbx.epoch)
        self.thread_id = str(140412000000000 + (pbx.random.getrandbits(20) << 12))

    def __repr__(self):
        return "<AGISession %s %s>" % (self.channel.name, self.target.url)

    # -- helpers for operations ----------------------------------------

    def later(self, seconds, function, *args):
        return self.pbx.later(seconds, self._guarded, function, args)

    def _guarded(self, function, args):
        if self.ended:
            return
        try:
            function(*args)
        except Exception:
            log.failure("AGI session {session} failed", session=self)

    def now(self):
        return self.pbx.now()

    def channel_alive(self):
        return self.channel.alive

    def set_variable(self, name, value):
        self.channel.variables[name] = value
        self.pbx.bus.emit("dialplan", ev.var_set, self.channel, name, value)

    def hangup_after_transfer(self):
        self.call.hangup_from_pbx("transfer", 16)

    # -- environment ----------------------------------------------------

    def environment(self):
        """
        The two writes of the C{agi_*} environment, as bytes.
        """
        channel = self.channel
        request = self.call.request
        target = self.target
        first = (
            "agi_network: yes\n"
            f"agi_network_script: {target.script}\n"
            f"agi_request: {target.url}\n"
            f"agi_channel: {channel.name}\n"
            f"agi_language: {channel.language}\n"
            "agi_type: Local\n"
            f"agi_uniqueid: {channel.uniqueid}\n"
            f"agi_version: {self.pbx.version}\n"
            f"agi_callerid: {request.caller_num or 'unknown'}\n"
            f"agi_calleridname: {request.caller_name or 'unknown'}\n"
            "agi_callingpres: 0\n"
            "agi_callingani2: 0\n"
            "agi_callington: 0\n"
            "agi_callingtns: 0\n"
            "agi_dnid: unknown\n"
            "agi_rdnis: unknown\n"
            f"agi_context: {channel.context}\n"
        )
        second = (
            f"agi_extension: {self.extension}\n"
            "agi_priority: 1\n"
            "agi_enhanced: 0.0\n"
            f"agi_accountcode: {channel.accountcode}\n"
            f"agi_threadid: {self.thread_id}\n"
        )
        for index, arg in enumerate(target.args, 1):
            second += f"agi_arg_{index}: {arg}\n"
        return first.encode("utf-8"), (second + "\n").encode("utf-8")

    # -- connection events ----------------------------------------------

    def connected(self, write, close):
        """
        The TCP connection is up: send the environment.
        """
        if self.ended:
            close()
            return
        self._write = write
        self._close = close
        self.tally.agi_sessions += 1
        for part in self.environment():
            write(part)
        if not self.dead and not self.channel.alive:
            self._send_notice()

    def connect_failed(self, why):
        if self.ended:
            return
        self.ended = True
        self.tally.agi_failures += 1
        log.info(
            "simulated PBX: FastAGI {url} unreachable for {channel} ({why}); AGISTATUS=FAILURE",
            url=self.target.url,
            channel=self.channel.name,
            why=why,
        )
        self.call.agi_session_ended(self, "FAILURE")

    def line_received(self, line):
        if self.ended or self.closing:
            return
        self.queue.append(line)
        self._pump()

    def script_closed(self):
        """
        The server half-closed (its script ended): finish the running
        command, send HANGUP, close.
        """
        if self.ended:
            return
        self.closing = True
        if self.current is None and not self.executing:
            self._end()

    def connection_lost(self):
        self._close = None
        if self.ended:
            return
        self._write = None
        self.closing = True
        self.queue = []
        if self.current is not None:
            self.current.cancel()
            self.current = None
        self._end()

    def abort(self):
        """
        The PBX is stopping: drop the connection without the usual ending.
        """
        self.ended = True
        if self.current is not None:
            self.current.cancel()
            self.current = None
        self._cancel_timers()
        if self._close is not None:
            self._close()

    # -- the channel ------------------------------------------------------

    def channel_hung_up(self):
        """
        C{;1} was hung up: the running command returns, or an unsolicited
        HANGUP is sent if none runs.
        """
        if self.ended or self.dead:
            return
        if self._autohangup is not None and self._autohangup.active():
            self._autohangup.cancel()
        if self.current is not None:
            self.current.hangup()
        elif self.executing:
            pass  # finish() will send the notice after the reply.
        elif self._write is not None:
            self._send_notice()

    def dtmf(self, digit):
        """
        A key from the called party (DTMFEnd on C{;1}).
        """
        op = self.current
        if op is not None and not op.done and op.digit(digit):
            self.tally.keys_heard[digit] += 1
        else:
            self.tally.keys_lost += 1

    def _send_notice(self):
        if self._notice is not None and self._notice.active():
            self._notice.cancel()
        self._notice = None
        if self.dead:
            return
        self.dead = True
        if self._write is not None:
            self._write(HANGUP)

    # -- commands -------------------------------------------------------

    def _pump(self):
        while self.queue and self.current is None and not self.executing and not self.ended:
            line = self.queue.pop(0)
            self._execute(line)
        if self.closing and self.current is None and not self.executing and not self.ended:
            self._end()

    def _execute(self, line):
        if not self.dead and not self.channel.alive:
            self._send_notice()
        argv = parse_args(line)
        self._command_id = self.pbx.command_id()
        self._command = line
        self.pbx.bus.emit(_AGI, ev.agi_exec_start, self.channel, self._command_id, line)
        spec = find_command(argv) if argv else None
        self.tally.agi_commands[spec.verb if spec else "(unknown)"] += 1
        if spec is None:
            self._write_out(INVALID)
            self._exec_end(510, "Invalid or unknown command")
            return
        if self.dead and not spec.dead:
            self._write_out(DEAD)
            self._exec_end(511, "Command Not Permitted on a dead channel or intercept routine")
            return
        self.executing = True
        try:
            outcome = getattr(self, "do_" + spec.handler)(argv)
        except Exception:
            log.failure("simulated AGI command {line!r} failed", line=line)
            outcome = (_reply("200 result=-1"), FAILURE, ())
        if outcome is USAGE:
            self.executing = False
            for part in usage_lines(spec):
                self._write_out(part)
            self._exec_end(520, "Usage")
            return
        if isinstance(outcome, ops.Operation):
            self.current = outcome
            self.executing = False
            outcome.start()
            if not outcome.done and not self.channel.alive:
                outcome.hangup()
            return
        reply, kind, varsets = outcome
        self.finish(reply, kind, varsets)

    def finish(self, reply, kind, varsets=()):
        """
        A command is done: set its variables, reply, and go on.
        """
        self.current = None
        self.executing = False
        for name, value in varsets:
            self.set_variable(name, value)
        self._write_out(reply)
        self._exec_end(*kind)
        if not self.dead and not self.channel.alive and not self.ended:
            if self.closing:
                self._send_notice()
            elif self._notice is None:
                self._notice = self.later(HANGUP_NOTICE_DELAY, self._send_notice)
        self._pump()

    def _write_out(self, data):
        if self._write is not None:
            self._write(data)

    def _exec_end(self, code, text):
        self.pbx.bus.emit(
            _AGI, ev.agi_exec_end, self.channel, self._command_id, self._command, code, text
        )

    def _cancel_timers(self):
        for timer in (self._notice, self._autohangup):
            if timer is not None and timer.active():
                timer.cancel()
        self._notice = self._autohangup = None

    def _end(self):
        if self.ended:
            return
        self.ended = True
        self._cancel_timers()
        if self._write is not None:
            self._write(HANGUP)
        if self._close is not None:
            self._close()
        if self.is_hangup_extension:
            status = "SUCCESS"
        else:
            status = "SUCCESS" if self.channel.alive else "HANGUP"
        self.call.agi_session_ended(self, status)

    # -- immediate commands ----------------------------------------------

    def do_answer(self, argv):
        return (_reply("200 result=0"), SUCCESS, ())

    def do_channel_status(self, argv):
        if len(argv) not in (2, 3):
            return USAGE
        channel = self.channel
        if len(argv) == 3 and argv[2] != channel.name:
            channel = self.pbx.find_channel(argv[2])
            if channel is None:
                return (_reply("200 result=-1"), SUCCESS, ())
        return (_reply("200 result=%d" % channel.state), SUCCESS, ())

    def do_get_variable(self, argv):
        if len(argv) != 3:
            return USAGE
        value = self.scope.read(argv[2])
        if value is None:
            return (_reply("200 result=0"), SUCCESS, ())
        return (_reply("200 result=1 (%s)" % value), SUCCESS, ())

    def do_get_full_variable(self, argv):
        if len(argv) not in (4, 5):
            return USAGE
        scope = self.scope
        if len(argv) == 5:
            channel = self.pbx.find_channel(argv[4])
            if channel is None:
                return (_reply("200 result=0"), SUCCESS, ())
            scope = VariableScope(channel, self.pbx.globals, self.pbx.epoch)
        return (_reply("200 result=1 (%s)" % scope.substitute(argv[3])), SUCCESS, ())

    def do_set_variable(self, argv):
        if len(argv) != 4:
            return USAGE
        return (_reply("200 result=1"), SUCCESS, [(argv[2], argv[3])])

    def do_verbose(self, argv):
        if len(argv) < 2:
            return USAGE
        return (_reply("200 result=1"), SUCCESS, ())

    def do_noop(self, argv):
        return (_reply("200 result=0"), SUCCESS, ())

    def do_hangup(self, argv):
        if len(argv) not in (1, 2):
            return USAGE
        if len(argv) == 2 and argv[1] != self.channel.name:
            channel = self.pbx.find_channel(argv[1])
            if channel is None:
                return (_reply("200 result=-1"), SUCCESS, ())
            self.pbx.hangup_channel(channel, 16)
            return (_reply("200 result=1"), SUCCESS, ())
        self.call.hangup_from_agi()
        return (_reply("200 result=1"), SUCCESS, ())

    def do_set_autohangup(self, argv):
        if len(argv) != 3:
            return USAGE
        try:
            seconds = float(argv[2])
        except ValueError:
            seconds = 0.0
        if self._autohangup is not None and self._autohangup.active():
            self._autohangup.cancel()
        self._autohangup = None
        if seconds > 0:
            self._autohangup = self.later(seconds, self.call.hangup_from_pbx, "autohangup", 0)
        return (_reply("200 result=0"), SUCCESS, ())

    def do_set_callerid(self, argv):
        if len(argv) != 3:
            return USAGE
        return (_reply("200 result=1"), SUCCESS, ())

    def do_set_context(self, argv):
        if len(argv) != 3:
            return USAGE
        return (_reply("200 result=0"), SUCCESS, ())

    do_set_extension = do_set_context
    do_set_priority = do_set_context

    def do_set_music(self, argv):
        if len(argv) not in (3, 4):
            return USAGE
        return (_reply("200 result=0"), SUCCESS, ())

    def do_database_get(self, argv):
        if len(argv) != 4:
            return USAGE
        value = self.pbx.astdb.get((argv[2], argv[3]))
        if value is None:
            return (_reply("200 result=0"), SUCCESS, ())
        return (_reply("200 result=1 (%s)" % value), SUCCESS, ())

    def do_database_put(self, argv):
        if len(argv) != 5:
            return USAGE
        self.pbx.astdb[(argv[2], argv[3])] = argv[4]
        return (_reply("200 result=1"), SUCCESS, ())

    def do_database_del(self, argv):
        if len(argv) != 4:
            return USAGE
        found = self.pbx.astdb.pop((argv[2], argv[3]), None) is not None
        return (_reply("200 result=%d" % found), SUCCESS, ())

    def do_database_deltree(self, argv):
        if len(argv) not in (3, 4):
            return USAGE
        family = argv[2]
        keys = [k for k in self.pbx.astdb if k[0] == family and (len(argv) == 3 or k[1].startswith(argv[3]))]
        for key in keys:
            del self.pbx.astdb[key]
        return (_reply("200 result=%d" % bool(keys)), SUCCESS, ())

    # -- blocking commands ------------------------------------------------

    def do_stream_file(self, argv):
        if len(argv) not in (4, 5):
            return USAGE
        offset = _int(argv[4], 0) if len(argv) == 5 else 0
        return ops.StreamFile(self, argv[2], argv[3], offset)

    def do_get_option(self, argv):
        if len(argv) not in (4, 5):
            return USAGE
        wait = _int(argv[4], 5000) if len(argv) == 5 else 5000
        return ops.StreamFile(self, argv[2], argv[3], 0, wait_ms=wait)

    def do_wait_for_digit(self, argv):
        if len(argv) != 4:
            return USAGE
        return ops.WaitForDigit(self, _int(argv[3], -1))

    def do_get_data(self, argv):
        if len(argv) < 3:
            return USAGE
        timeout = _int(argv[3], 0) if len(argv) >= 4 else 0
        maximum = _int(argv[4], 1024) if len(argv) >= 5 else 1024
        if timeout > 0:
            first = between = timeout / 1000.0
        elif timeout < 0:
            first = between = 1e9
        else:
            first, between = 10.0, 5.0
        return ops.GetData(self, argv[2], max(maximum, 1), first, between)

    def _say(self, argv, seconds):
        return ops.Say(self, seconds, argv[3] if len(argv) > 3 else "")

    def do_say_digits(self, argv):
        if len(argv) != 4:
            return USAGE
        return self._say(argv, 0.5 * len(argv[2]))

    def do_say_alpha(self, argv):
        if len(argv) != 4:
            return USAGE
        return self._say(argv, 0.5 * len(argv[2]))

    def do_say_number(self, argv):
        if len(argv) not in (4, 5) or _int(argv[2]) is None:
            return USAGE
        return self._say(argv, 0.6 * len(str(abs(int(argv[2])))) + 0.2)

    def do_say_date(self, argv):
        if len(argv) != 4 or _int(argv[2]) is None:
            return USAGE
        return self._say(argv, 2.5)

    def do_say_time(self, argv):
        if len(argv) != 4 or _int(argv[2]) is None:
            return USAGE
        return self._say(argv, 2.0)

    def do_say_datetime(self, argv):
        if not 3 <= len(argv) <= 7 or _int(argv[2]) is None:
            return USAGE
        return self._say(argv, 4.0)

    def do_exec_(self, argv):
        if len(argv) < 2:
            return USAGE
        app = argv[1]
        data = argv[2] if len(argv) > 2 else ""
        if "," not in data and "|" in data:
            data = data.replace("|", ",")
        channel = self.channel
        channel.last_application, channel.last_data = app, data
        channel.changed()
        name = app.lower()
        args = data.split(",")
        if name == "playback" or name == "background":
            return ops.Playback(self, args[0])
        if name == "amd":
            plan = self.call.plan
            return ops.DetectMachine(self, plan.amd_status, plan.amd_cause, plan.amd_seconds)
        if name == "read":
            args += [""] * 6
            maximum = _int(args[2], 0) or 255
            attempts = _int(args[4], 1) or 1
            try:
                timeout = float(args[5]) if args[5] else 0.0
            except ValueError:
                timeout = 0.0
            return ops.ReadDigits(self, args[0], args[1], maximum, attempts, timeout if timeout > 0 else 10.0)
        if name == "wait":
            try:
                seconds = float(args[0] or 0)
            except ValueError:
                seconds = 0.0
            return ops.Pause(self, seconds)
        if name == "senddtmf":
            return ops.SendDigits(self, args[0])
        if name in ("dial", "queue"):
            timeout = None
            if name == "dial" and len(args) > 1 and args[1]:
                try:
                    timeout = float(args[1])
                except ValueError:
                    timeout = None
            options = args[2] if name == "dial" and len(args) > 2 else ""
            return ops.Transfer(self, self.pbx.transfer, timeout, queue=name == "queue", go_on="g" in options)
        if name == "set":
            var, _, value = data.partition("=")
            if not var:
                return (_reply("200 result=0"), SUCCESS, ())
            return (_reply("200 result=0"), SUCCESS, [(var, value)])
        if name == "hangup":
            cause = _int(args[0], 16) if args[0] else 16
            self.call.hangup_from_pbx("agi", cause)
            return (_reply("200 result=-1"), OTHER, ())
        if name in ("noop", "verbose", "log", "answer", "progress", "ringing", "userevent"):
            return (_reply("200 result=0"), SUCCESS, ())
        log.info("simulated AGI: EXEC of application {app} this simulator does not know", app=app)
        return (_reply("200 result=-2"), OTHER, ())


@implementer(IHalfCloseableProtocol)
class AGIClientProtocol(Protocol):
    """
    Feed an L{AGISession} with the server's lines (LF-terminated; a
    trailing CR is dropped).
    """

    def __init__(self, session):
        self.session = session
        self._buffer = b""
        self._half_closed = False

    def connectionMade(self):
        self.session.connected(self.transport.write, self._close)

    def _close(self):
        if self.transport is not None:
            self.transport.loseConnection()

    def dataReceived(self, data):
        buffer = self._buffer + data
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > 65536:
            log.warn("simulated AGI: dropping a {n}-byte line without LF", n=len(self._buffer))
            self._buffer = b""
        session = self.session
        for raw in lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            session.line_received(raw.decode("utf-8", "replace"))

    def readConnectionLost(self):
        self._half_closed = True
        self.session.script_closed()

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason):
        self.session.connection_lost()
