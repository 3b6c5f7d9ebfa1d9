"""
FTS configuration: one declarative table of keys, loaded from an INI file,
the environment and the command line into frozen attrs objects.

Precedence, highest first: command line > environment > file > default.

Every key lives in a section.  Its environment variable is ``FTS_`` followed
by the upper-cased section and key (``[dialer] max_channels`` is
``FTS_DIALER_MAX_CHANNELS``), except the ``[fts]`` section whose keys drop the
section (``[fts] data_dir`` is ``FTS_DATA_DIR``).  Asterisk servers are
sections named ``[ami:NAME]``; their variables are ``FTS_AMI_NAME_KEY`` and
only apply to a server the file (or ``FTS_AMI_SERVERS``) names.

A wrong value raises L{ConfigError}, whose message is one line naming the
source (``file:[section] key`` or the variable), the value and what is
expected.  Nothing is started before the whole configuration is valid.
"""

import configparser
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attr


class ConfigError(Exception):
    """
    A configuration value is wrong.  C{str()} is one line for an operator.
    """

    def __init__(self, source, value, expected):
        self.source = source
        self.value = value
        self.expected = expected
        super().__init__(f"{source} = {value!r}: expected {expected}")


# -- value parsers: text -> value, or ValueError(expected) ------------------


def _integer(low=None, high=None):
    def parse(text):
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(_range_text("a whole number", low, high))
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(_range_text("a whole number", low, high))
        return value

    return parse


def _number(low=None, high=None):
    def parse(text):
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(_range_text("a number", low, high))
        if value != value or (low is not None and value < low) or (
            high is not None and value > high
        ):
            raise ValueError(_range_text("a number", low, high))
        return value

    return parse


def _range_text(what, low, high):
    if low is not None and high is not None:
        return f"{what} from {low} to {high}"
    if low is not None:
        return f"{what} >= {low}"
    if high is not None:
        return f"{what} <= {high}"
    return what


_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def _boolean(text):
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("yes or no (also true/false, on/off, 1/0)")


def _text(text):
    return text.strip()


def _optional_text(text):
    return text.strip() or None


def _choice(*choices):
    def parse(text):
        value = text.strip().lower()
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value

    return parse


_ENDPOINT = re.compile(r"^(tcp|tcp6|unix|ssl):\S+$")


def _endpoint(text):
    value = text.strip()
    if not _ENDPOINT.match(value):
        raise ValueError(
            "a Twisted endpoint string such as tcp:8080:interface=127.0.0.1"
        )
    return value


def _host_port(text):
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("HOST:PORT, for example 127.0.0.1:4573")
    return value


_MEMORY = re.compile(r"^\s*(\d+)\s*(kB|MB|GB|TB)\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"kb": 2 ** 10, "mb": 2 ** 20, "gb": 2 ** 30, "tb": 2 ** 40}


def _memory(text):
    """
    C{auto}, or an amount of memory with PostgreSQL's units (C{512MB},
    C{4GB}): returned as C{auto} or as PostgreSQL spells it (C{512MB}).
    """
    if text.strip().lower() == "auto":
        return "auto"
    found = _MEMORY.match(text)
    if found is None:
        raise ValueError("auto, or an amount such as 512MB or 4GB (units kB, MB, GB, TB)")
    amount, unit = int(found.group(1)), found.group(2).lower()
    size = amount * _MEMORY_UNITS[unit]
    if not 16 * 2 ** 20 <= size <= 2 ** 40:
        raise ValueError("an amount from 16MB to 1TB, or auto")
    return f"{amount}{dict(kb='kB', mb='MB', gb='GB', tb='TB')[unit]}"


def _timezone(text):
    value = text.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone name such as Europe/Paris")
    return value


def _names(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
            raise ValueError(
                "a comma-separated list of names made of a-z, 0-9 and '-'"
            )
    return tuple(names)


def _addresses(text):
    addresses = tuple(a.strip() for a in text.split(",") if a.strip())
    for address in addresses:
        if "@" not in address:
            raise ValueError("comma-separated e-mail addresses")
    return addresses


def _log_level(text):
    return _choice("debug", "info", "warn", "error", "critical")(text)


@attr.s(frozen=True, slots=True)
class Key:
    """
    One configuration key: where it lives, how to read it, its default and
    what it means (the text of C{etc/fts.ini.example}).
    """

    section = attr.ib()
    name = attr.ib()
    parse = attr.ib()
    default = attr.ib()
    help = attr.ib()

    def env_var(self, server=None):
        if self.section == "fts":
            return "FTS_" + self.name.upper()
        if self.section == "ami":
            return "FTS_AMI_%s_%s" % (
                server.upper().replace("-", "_"),
                self.name.upper(),
            )
        return "FTS_%s_%s" % (self.section.upper(), self.name.upper())


KEYS = (
    Key("fts", "data_dir", _text, "./var",
        "Directory for the embedded database, event spool, sounds cache, backups and logs."),
    Key("fts", "instance_name", _optional_text, "",
        "Name of this daemon in logs and /health (default: host name and pid)."),
    Key("database", "dsn", _optional_text, "",
        "libpq connection string of a PostgreSQL >= 13. Empty: run an embedded PostgreSQL under <data_dir>/pg."),
    Key("database", "pool_size", _integer(1, 100), "6",
        "Connections kept open to PostgreSQL."),
    Key("database", "connect_timeout", _number(0.1, 600), "10",
        "Seconds to wait for the database at start before giving up."),
    Key("database", "embedded_shared_buffers", _memory, "auto",
        "Memory the embedded PostgreSQL keeps data in (its shared_buffers). auto: a quarter of"
        " this machine's memory (or of the container's limit), from 128MB to 2GB; or an amount"
        " such as 512MB or 4GB. A campaign of a million contacts needs about 1GB to be dialed"
        " from memory. Ignored when dsn is set."),
    Key("pbx", "mode", _choice("sim", "ami"), "sim",
        "sim: the built-in PBX simulator (demos, tests). ami: the Asterisk servers of the [ami:NAME] sections."),
    Key("pbx", "sim_ami_endpoint", _endpoint, "tcp:0:interface=127.0.0.1",
        "Where the built-in simulator listens for AMI when mode = sim (port 0: any free port)."),
    Key("pbx", "sim_scale", _number(0.0001, 100), "1.0",
        "Simulator time scale: 0.01 makes a 30 s call last 0.3 s."),
    Key("pbx", "sim_seed", _integer(0), "1",
        "Seed of the simulator's callee model (same seed, same callees)."),
    Key("pbx", "sim_profile", _text, "random",
        "The simulator's callees: random, transcript (4-digit numbers behave as the recorded "
        "test dialplan) or the path of a JSON callee profile (see fts/pbxsim/profile.py)."),
    Key("pbx", "servers", _names, "",
        "Names of the [ami:NAME] sections to use when mode = ami (default: every one)."),
    Key("ami", "host", _text, "127.0.0.1", "Asterisk host of this server's AMI."),
    Key("ami", "port", _integer(1, 65535), "5038", "AMI TCP port."),
    Key("ami", "username", _text, "fts", "AMI user (manager.conf section)."),
    Key("ami", "secret", _text, "", "AMI secret."),
    Key("ami", "auth", _choice("md5", "plain"), "md5",
        "Login by MD5 challenge (default) or plaintext secret."),
    Key("ami", "events", _text, "call,system",
        "Event mask sent at login (Events: header): call events, and system for Shutdown."),
    Key("ami", "max_channels", _integer(1, 100000), "100",
        "Calls FTS may have in flight on this server at once."),
    Key("ami", "cps", _number(0.01, 10000), "50",
        "Originates per second FTS may send to this server."),
    Key("ami", "action_timeout", _number(0.1, 600), "10",
        "Seconds to wait for the answer to an AMI action."),
    Key("ami", "keepalive", _number(1, 3600), "20",
        "Seconds between keepalive Pings."),
    Key("ami", "originate_context", _text, "fts-campaign",
        "Dialplan context answered calls enter (see etc/asterisk/extensions_fts.conf)."),
    Key("agi", "endpoint", _endpoint, "tcp:4573:interface=127.0.0.1:backlog=1024",
        "Where the FastAGI server listens (a large backlog: call set-ups arrive in bursts)."),
    Key("agi", "max_sessions", _integer(1, 1000000), "20000",
        "Concurrent FastAGI sessions accepted; more are refused with a log line."),
    Key("agi", "command_timeout", _number(0.1, 3600), "60",
        "Seconds an AGI command may take before the session is ended."),
    Key("web", "endpoint", _endpoint, "tcp:8080:interface=127.0.0.1",
        "Where the admin panel and JSON API listen."),
    Key("web", "base_url", _optional_text, "",
        "Public URL of the panel (links in e-mails). Empty: derived from the endpoint."),
    Key("web", "secure_cookies", _boolean, "no",
        "Mark session cookies Secure (set yes behind TLS)."),
    Key("web", "admin_password", _optional_text, "",
        "Password of the first admin. Empty: one is generated and printed at first start."),
    Key("dialer", "max_channels", _integer(1, 1000000), "200",
        "Calls in flight across every campaign and PBX."),
    Key("dialer", "cps", _number(0.01, 100000), "100",
        "Originates per second across every campaign."),
    Key("dialer", "dial_string", _text, "Local/{number}@fts-callee",
        "Default dial string template; {number} is the contact's phone."),
    Key("dialer", "default_country_code", _optional_text, "",
        "Country code prefixed to national numbers when normalising phones (digits only)."),
    Key("dialer", "min_phone_digits", _integer(1, 30), "3",
        "Shortest phone number accepted."),
    Key("dialer", "max_phone_digits", _integer(1, 30), "15",
        "Longest phone number accepted (E.164 allows 15)."),
    Key("dialer", "shutdown_grace", _number(0, 3600), "30",
        "Seconds to let calls in flight finish on SIGTERM before the daemon stops anyway."),
    Key("sounds", "directory", _optional_text, "",
        "Directory Asterisk reads FTS's sounds from. Empty: <data_dir>/sounds."),
    Key("sounds", "formats", _text, "wav",
        "Formats written for each sound (wav, gsm, ulaw; comma-separated)."),
    Key("tts", "engine", _choice("espeak-ng", "none"), "espeak-ng",
        "Text-to-speech engine; 'none' refuses TTS message parts."),
    Key("tts", "voice", _text, "en", "Voice/language passed to the TTS engine."),
    Key("tts", "timezone", _timezone, "UTC", "Default time zone of new campaigns."),
    Key("mail", "smtp_host", _optional_text, "",
        "SMTP server for notifications. Empty: no e-mail is sent."),
    Key("mail", "smtp_port", _integer(1, 65535), "587", "SMTP port."),
    Key("mail", "username", _optional_text, "", "SMTP user (empty: no authentication)."),
    Key("mail", "password", _optional_text, "", "SMTP password."),
    Key("mail", "starttls", _boolean, "yes", "Require STARTTLS."),
    Key("mail", "sender", _text, "fts@localhost", "From address of notifications."),
    Key("mail", "recipients", _addresses, "",
        "Comma-separated addresses told when campaigns finish and are finalized."),
    Key("backup", "enabled", _boolean, "yes", "Take periodic database backups with pg_dump."),
    Key("backup", "directory", _optional_text, "",
        "Where backups go. Empty: <data_dir>/backups."),
    Key("backup", "interval", _number(60, 31 * 86400), "86400", "Seconds between backups."),
    Key("backup", "keep", _integer(1, 10000), "7", "Backups kept; older ones are deleted."),
    Key("log", "level", _log_level, "info", "Lowest level logged."),
)

_BY_SECTION = {}
for _key in KEYS:
    _BY_SECTION.setdefault(_key.section, {})[_key.name] = _key


# Command-line options and the key each sets.
OPTION_KEYS = {
    "data-dir": ("fts", "data_dir"),
    "dsn": ("database", "dsn"),
    "pbx": ("pbx", "mode"),
    "web": ("web", "endpoint"),
    "agi": ("agi", "endpoint"),
}


# -- the loaded configuration ------------------------------------------------


@attr.s(frozen=True, slots=True)
class AMIServer:
    """
    One Asterisk server reached through AMI.
    """

    name = attr.ib()
    host = attr.ib()
    port = attr.ib()
    username = attr.ib()
    secret = attr.ib(repr=False)
    auth = attr.ib()
    events = attr.ib()
    max_channels = attr.ib()
    cps = attr.ib()
    action_timeout = attr.ib()
    keepalive = attr.ib()
    originate_context = attr.ib()


def _section_class(name, section):
    fields = {
        key.name: attr.ib(repr=key.name not in ("password", "admin_password", "secret"))
        for key in KEYS
        if key.section == section
    }
    return attr.make_class(name, fields, frozen=True, slots=True)


DaemonSettings = _section_class("DaemonSettings", "fts")
DatabaseSettings = _section_class("DatabaseSettings", "database")
PBXSettings = _section_class("PBXSettings", "pbx")
AGISettings = _section_class("AGISettings", "agi")
WebSettings = _section_class("WebSettings", "web")
DialerSettings = _section_class("DialerSettings", "dialer")
SoundsSettings = _section_class("SoundsSettings", "sounds")
TTSSettings = _section_class("TTSSettings", "tts")
MailSettings = _section_class("MailSettings", "mail")
BackupSettings = _section_class("BackupSettings", "backup")
LogSettings = _section_class("LogSettings", "log")


@attr.s(frozen=True, slots=True)
class Config:
    """
    The whole, validated configuration of one daemon.

    @ivar sources: for each C{(section, key)}, where its value came from
        (C{"default"}, C{"file:PATH"}, C{"env:VAR"} or C{"option:--NAME"}),
        for the status page.
    """

    fts = attr.ib()
    database = attr.ib()
    pbx = attr.ib()
    ami_servers = attr.ib()
    agi = attr.ib()
    web = attr.ib()
    dialer = attr.ib()
    sounds = attr.ib()
    tts = attr.ib()
    mail = attr.ib()
    backup = attr.ib()
    log = attr.ib()
    sources = attr.ib(factory=dict, eq=False, repr=False)

    @property
    def data_dir(self):
        return Path(self.fts.data_dir)

    @property
    def sounds_dir(self):
        return Path(self.sounds.directory or self.data_dir / "sounds")

    @property
    def backup_dir(self):
        return Path(self.backup.directory or self.data_dir / "backups")

    def summary(self):
        """
        Every key with its value and source, secrets masked: for the status
        page and the start-up log.
        """
        rows = []
        for key in KEYS:
            if key.section == "ami":
                continue
            value = getattr(getattr(self, key.section), key.name)
            rows.append((key.section, key.name, _mask(key.name, value),
                         self.sources.get((key.section, key.name), "default")))
        for server in self.ami_servers:
            for key in _BY_SECTION["ami"].values():
                value = getattr(server, key.name)
                section = "ami:" + server.name
                rows.append((section, key.name, _mask(key.name, value),
                             self.sources.get((section, key.name), "default")))
        return rows


_SECRET_NAMES = ("secret", "password", "admin_password")


def _mask(name, value):
    if name in _SECRET_NAMES or (name == "dsn" and value and "password" in value):
        return "********" if value else ""
    return value


_SECTION_CLASSES = {
    "fts": DaemonSettings,
    "database": DatabaseSettings,
    "pbx": PBXSettings,
    "agi": AGISettings,
    "web": WebSettings,
    "dialer": DialerSettings,
    "sounds": SoundsSettings,
    "tts": TTSSettings,
    "mail": MailSettings,
    "backup": BackupSettings,
    "log": LogSettings,
}


def load(path=None, environ=None, options=None):
    """
    Load and validate the configuration.

    @param path: an INI file, or L{None} for none.
    @param environ: the environment (default C{os.environ}); only C{FTS_*}
        variables are read.
    @param options: command-line values by option name (C{"data-dir"},
        C{"dsn"}, C{"pbx"}, C{"web"}, C{"agi"}); L{None} values are unset.
    @raise ConfigError: the first wrong value, in file order.
    """
    environ = os.environ if environ is None else environ
    options = options or {}
    raw = {}  # (section, key) -> (text, source)

    for key in KEYS:
        if key.section != "ami":
            raw[key.section, key.name] = (key.default, "default")

    server_sections = {}
    if path is not None:
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        try:
            with open(path, encoding="utf-8") as f:
                parser.read_file(f)
        except OSError as e:
            raise ConfigError(f"--config {path}", path, f"a readable file ({e.strerror})")
        except (configparser.Error, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}", "", f"a valid INI file ({_one_line(e)})")
        for section in parser.sections():
            if section.startswith("ami:"):
                server = section[4:]
                if not server or not re.match(r"^[a-z0-9][a-z0-9-]*$", server):
                    raise ConfigError(f"{path}:[{section}]", section,
                                      "a section name ami:NAME with NAME made of a-z, 0-9 and '-'")
                known = _BY_SECTION["ami"]
                server_sections[server] = {}
                for name, value in parser.items(section):
                    if name not in known:
                        raise ConfigError(f"{path}:[{section}] {name}", value,
                                          "a known key (" + ", ".join(sorted(known)) + ")")
                    server_sections[server][name] = (value, f"{path}:[{section}] {name}")
                continue
            known = _BY_SECTION.get(section)
            if known is None or section == "ami":
                raise ConfigError(f"{path}:[{section}]", section,
                                  "a known section (" + ", ".join(
                                      s for s in _BY_SECTION if s != "ami") + ", ami:NAME)")
            for name, value in parser.items(section):
                if name not in known:
                    raise ConfigError(f"{path}:[{section}] {name}", value,
                                      "a known key of [%s] (%s)" % (section, ", ".join(sorted(known))))
                raw[section, name] = (value, f"{path}:[{section}] {name}")

    for key in KEYS:
        if key.section == "ami":
            continue
        var = key.env_var()
        if var in environ:
            raw[key.section, key.name] = (environ[var], f"environment {var}")

    for option, (section, name) in OPTION_KEYS.items():
        value = options.get(option)
        if value is not None:
            raw[section, name] = (value, f"option --{option}")

    values = {}
    sources = {}
    for (section, name), (text, source) in raw.items():
        key = _BY_SECTION[section][name]
        values[section, name] = _parse(key, text, source)
        sources[section, name] = source

    # Asterisk servers
    wanted = values["pbx", "servers"] or tuple(sorted(server_sections))
    servers = []
    for name in wanted:
        if name not in server_sections:
            raise ConfigError(sources["pbx", "servers"], ",".join(wanted),
                              f"names of [ami:NAME] sections; there is no [ami:{name}]")
        fields = {}
        for key in _BY_SECTION["ami"].values():
            text, source = server_sections[name].get(key.name, (key.default, "default"))
            var = key.env_var(name)
            if var in environ:
                text, source = environ[var], f"environment {var}"
            fields[key.name] = _parse(key, text, source)
            sources["ami:" + name, key.name] = source
        servers.append(AMIServer(name=name, **fields))
    if values["pbx", "mode"] == "ami" and not servers:
        raise ConfigError(sources["pbx", "mode"], "ami",
                          "at least one [ami:NAME] section when mode = ami")
    if values["dialer", "min_phone_digits"] > values["dialer", "max_phone_digits"]:
        raise ConfigError(sources["dialer", "min_phone_digits"],
                          str(values["dialer", "min_phone_digits"]),
                          "no more than [dialer] max_phone_digits (%d)"
                          % values["dialer", "max_phone_digits"])
    if "{number}" not in values["dialer", "dial_string"]:
        raise ConfigError(sources["dialer", "dial_string"], values["dialer", "dial_string"],
                          "a dial string containing {number}")

    sections = {}
    for section, cls in _SECTION_CLASSES.items():
        sections[section] = cls(**{
            name: values[section, name] for name in _BY_SECTION[section]
        })
    return Config(ami_servers=tuple(servers), sources=sources, **sections)


def _parse(key, text, source):
    try:
        return key.parse(text)
    except ValueError as e:
        raise ConfigError(source, text, str(e))


def _one_line(error):
    return " ".join(str(error).split())


def example_text():
    """
    The text of C{etc/fts.ini.example}: every key, its default and meaning.
    """
    lines = [
        "; FTS configuration. Every key is shown with its default.",
        "; Precedence: command line > environment (FTS_SECTION_KEY) > this file > default.",
        "",
    ]
    current = None
    for key in KEYS:
        if key.section == "ami":
            continue
        if key.section != current:
            if current is not None:
                lines.append("")
            lines.append(f"[{key.section}]")
            current = key.section
        lines.append(f"; {key.help} (environment: {key.env_var()})")
        lines.append(f";{key.name} = {key.default}")
    lines += [
        "",
        "; One section per Asterisk server when [pbx] mode = ami; NAME is a-z, 0-9, '-'.",
        "; Environment: FTS_AMI_NAME_KEY, e.g. FTS_AMI_PBX1_SECRET.",
        ";[ami:pbx1]",
    ]
    for key in _BY_SECTION["ami"].values():
        lines.append(f"; {key.help}")
        lines.append(f";{key.name} = {key.default}")
    return "\n".join(lines) + "\n"
