"""
The AMI server of the simulated PBX (Twisted protocol and factory).

Speaks AMI as Asterisk 22 does in ../shared/asterisk-transcripts: the
C{Asterisk Call Manager/11.0.0} banner, Challenge/Login (MD5 key or
plaintext secret, C{Events:} mask), a failed login answered after about a
second and then closed, C{Permission denied} before login, the security
events, Logoff, and a C{Shutdown} event when the PBX stops.  The actions that
touch calls are in L{fts.pbxsim.ami_actions}.

Frames are parsed with L{fts.asterisk.ami.frames.FrameParser} and written
with L{fts.asterisk.ami.frames.serialize}.
"""

import hashlib
import time

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from fts.asterisk.ami.frames import FrameParser, serialize

from . import ami_actions
from .events import ALL_CLASSES, parse_event_mask

__all__ = ["AMIServerFactory", "AMIServerProtocol", "BANNER"]

log = Logger()

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
# Simulated seconds (so scaled like every PBX time) before a failed login is
# answered and the connection closed.
LOGIN_FAILURE_DELAY = 1.0

# Actions allowed before login.
_OPEN_ACTIONS = ("login", "logoff", "challenge")


def _format_tv(seconds):
    whole = int(seconds)
    millis = int(round((seconds - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03d+0000" % millis


def _address(address):
    host = getattr(address, "host", "127.0.0.1")
    port = getattr(address, "port", 0)
    kind = "IPV6" if ":" in str(host) else "IPV4"
    return "%s/TCP/%s/%s" % (kind, host, port)


class AMIServerProtocol(Protocol):
    """
    One AMI connection.

    @ivar authenticated: whether Login succeeded.
    @ivar event_classes: the event classes this session receives.
    """

    def __init__(self, factory):
        self.factory = factory
        self.pbx = factory.pbx
        self.parser = FrameParser(expect_banner=False, on_problem=self._problem)
        self.authenticated = False
        self.username = ""
        self.event_classes = frozenset()
        self.challenge = ""
        self.connected = False
        self.closing = False
        self.session_id = "0x%x" % (0x7FB400000000 + factory.next_session() * 0x1660)
        self.session_tv = None
        self._delayed = None
        self._outbox = None

    # -- connection -----------------------------------------------------

    def connectionMade(self):
        self.connected = True
        self.factory.sessions.add(self)
        self.transport.write(BANNER)

    def connectionLost(self, reason):
        self.connected = False
        self.factory.sessions.discard(self)
        self.pbx.bus.unsubscribe(self)
        if self._delayed is not None and self._delayed.active():
            self._delayed.cancel()

    def _problem(self, problem):
        log.warn("simulated AMI: bad input from a client: {problem}", problem=str(problem))

    def dataReceived(self, data):
        if self.closing:
            return
        for message in self.parser.feed(data):
            if self.closing:
                return
            try:
                self.action(message)
            except Exception:
                log.failure("simulated AMI action {action} failed", action=message.name)
                self.respond(message.action_id, "Error", "Internal error")

    # -- output ---------------------------------------------------------

    def write(self, data):
        if self._outbox:
            self._flush()
        if self.connected and not self.closing:
            self.transport.write(data)

    def send(self, headers):
        self.write(serialize(headers))

    def send_event(self, data):
        if self.factory.clock is None:
            self.write(data)
            return
        # Coalesce the events of one reactor turn into one write, as
        # Asterisk's own bursts (far fewer writes at high call rates).
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = []
        if not outbox:
            self.factory.clock.callLater(0, self._flush)
        outbox.append(data)

    def _flush(self):
        outbox, self._outbox = self._outbox, None
        if outbox and self.connected and not self.closing:
            self.transport.write(b"".join(outbox))

    def respond(self, action_id, response, message=None, extra=()):
        """
        C{Response}, C{ActionID} (when given), C{Message} (when given), then
        C{extra} headers: the order Asterisk uses.
        """
        headers = [("Response", response)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        if message is not None:
            headers.append(("Message", message))
        headers.extend(extra)
        self.send(headers)

    def close(self):
        if self._outbox:
            self._flush()
        self.closing = True
        if self.transport is not None:
            self.transport.loseConnection()

    # -- security events ------------------------------------------------

    def _security(self, event, severity, version, *fields, tail=()):
        pbx = self.pbx
        if not pbx.bus.wants("security"):
            return
        local = _address(self.transport.getHost()) if self.transport else ""
        remote = _address(self.transport.getPeer()) if self.transport else ""
        headers = (
            ("Event", event),
            ("Privilege", "security,all"),
            ("EventTV", _format_tv(pbx.epoch())),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", str(version)),
        ) + fields + (
            ("SessionID", self.session_id),
            ("LocalAddress", local),
            ("RemoteAddress", remote),
        ) + tuple(tail)
        pbx.bus.emit("security", lambda: headers)

    def _session_tv(self):
        return _format_tv(self.session_tv) if self.session_tv is not None else "1970-01-01T00:00:00.000+0000"

    # -- dispatch -------------------------------------------------------

    def action(self, message):
        name = message.get("Action", "") if message.kind != "action" else message.name
        action_id = message.action_id
        if not name:
            self.respond(action_id, "Error", "Missing action in request")
            self._bad_format("NONE")
            return
        lowered = name.lower()
        if not self.authenticated and lowered not in _OPEN_ACTIONS:
            self.respond(action_id, "Error", "Permission denied")
            self._security(
                "RequestNotAllowed",
                "Error",
                1,
                ("AccountID", self.username),
                tail=(("RequestType", "Action: " + name), ("SessionTV", self._session_tv())),
            )
            return
        method = getattr(self, "action_" + lowered, None)
        if method is None:
            method = ami_actions.ACTIONS.get(lowered)
            if method is None:
                self.respond(
                    action_id,
                    "Error",
                    "Invalid/unknown command: %s. Use Action: ListCommands to show available commands."
                    % (name,),
                )
                self._bad_format(name)
                return
            method(self, message)
            return
        method(message)

    def _bad_format(self, name):
        self._security(
            "RequestBadFormat",
            "Error",
            1,
            tail=(
                ("RequestType", "Action: " + name),
                ("SessionTV", self._session_tv()),
                ("AccountID", self.username),
            ),
        )

    # -- authentication -------------------------------------------------

    def action_challenge(self, message):
        if (message.get("AuthType") or "").lower() != "md5":
            self.respond(message.action_id, "Error", "Must specify AuthType")
            return
        if not self.challenge:
            self.challenge = str(self.pbx.random.randint(100000000, 999999999))
        self.respond(message.action_id, "Success", extra=[("Challenge", self.challenge)])

    def _check_login(self, message):
        username = message.get("Username") or ""
        if not username:
            return False, None
        secret = self.factory.credentials.get(username)
        if secret is None:
            return False, None
        auth_type = (message.get("AuthType") or "").lower()
        if auth_type == "md5":
            key = (message.get("Key") or "").lower()
            if not self.challenge:
                return False, username
            expected = hashlib.md5((self.challenge + secret).encode("utf-8")).hexdigest()
            return key == expected, username
        return (message.get("Secret") or "") == secret, username

    def action_login(self, message):
        if self.authenticated:
            self.respond(message.action_id, "Success", "Already authenticated")
            return
        ok, username = self._check_login(message)
        if not ok:
            if username:
                self.username = username
                self._security(
                    "InvalidPassword",
                    "Error",
                    2,
                    ("AccountID", username),
                    tail=(("SessionTV", self._session_tv()),),
                )
            # Asterisk sleeps a second, answers, then closes the session;
            # nothing else is read meanwhile.
            self.closing = True
            self._delayed = self.pbx.later(LOGIN_FAILURE_DELAY, self._login_failed, message.action_id)
            return
        self.authenticated = True
        self.username = username
        self.session_tv = self.pbx.epoch()
        events = message.get("Events")
        self.event_classes = ALL_CLASSES if events is None else parse_event_mask(events)
        self.respond(message.action_id, "Success", "Authentication accepted")
        if "system" in self.event_classes:
            uptime = str(int(self.pbx.now()) or 1)
            self.send(
                (
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                )
            )
        self.pbx.bus.subscribe(self)
        self._security(
            "SuccessfulAuth",
            "Informational",
            1,
            ("AccountID", username),
            tail=(("UsingPassword", "0"), ("SessionTV", self._session_tv())),
        )
        log.info("simulated AMI: {user} logged in, events {events}", user=username, events=sorted(self.event_classes))

    def _login_failed(self, action_id):
        self.closing = False
        self.respond(action_id, "Error", "Authentication failed")
        self.close()

    def action_logoff(self, message):
        self.respond(message.action_id, "Goodbye", "Thanks for all the fish.")
        self.close()

    def action_ping(self, message):
        self.respond(
            message.action_id,
            "Success",
            extra=[("Ping", "Pong"), ("Timestamp", "%.6f" % self.pbx.epoch())],
        )

    def action_events(self, message):
        self.event_classes = parse_event_mask(message.get("EventMask") or "")
        self.pbx.bus.update()
        self.send(
            (("Response", "Success"),)
            + ((("ActionID", message.action_id),) if message.action_id is not None else ())
            + (("Events", "On" if self.event_classes else "Off"),)
        )


class AMIServerFactory(Factory):
    """
    Build L{AMIServerProtocol}s for a L{fts.pbxsim.pbx.SimulatedPBX}.

    @param credentials: C{{username: secret}}.
    @param clock: if given, the events of one reactor turn are written to
        each session in one write, scheduled with C{clock.callLater(0)}
        (for real sockets; without it every event is written at once).
    """

    def __init__(self, pbx, credentials, clock=None):
        self.pbx = pbx
        self.clock = clock
        self.credentials = dict(credentials)
        self.sessions = set()
        self._count = 0

    def next_session(self):
        self._count += 1
        return self._count

    def buildProtocol(self, addr):
        protocol = AMIServerProtocol(self)
        protocol.factory = self
        return protocol

    def shutdown(self):
        """
        Send C{Event: Shutdown} to every logged-in session that receives
        system events, then close every connection.
        """
        data = serialize(
            (
                ("Event", "Shutdown"),
                ("Privilege", "system,all"),
                ("Shutdown", "Cleanly"),
                ("Restart", "False"),
            )
        )
        for session in list(self.sessions):
            if session.authenticated and "system" in session.event_classes:
                session.write(data)
            session.close()
