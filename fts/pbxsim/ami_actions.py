"""
The AMI actions of the simulated PBX that touch calls and channels:
Originate, CoreShowChannels, Status, Getvar, Setvar, Hangup, Command,
CoreSettings, ListCommands.

Each is a function C{(session, message)} writing its response(s) with the
header names, order and messages of Asterisk 22 (see the transcripts).
"""

from .agi_commands import VariableScope
from .dialplan import AGITarget
from .events import var_set
from .pbx import OriginateRequest

__all__ = ["ACTIONS", "parse_callerid", "parse_variables"]

MAX_UNIQUEID = 149
_TRUE = ("yes", "true", "y", "t", "1", "on")


def parse_callerid(text):
    """
    Split a CallerID header (C{"Name" <num>}, C{Name <num>}, C{num}) into
    C{(num, name)}; missing parts are C{""}.
    """
    text = (text or "").strip()
    if not text:
        return "", ""
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
            name = name[1:-1]
        return num.strip(), name
    if all(c in "0123456789+*#-() " for c in text):
        return text.replace(" ", ""), ""
    return "", text.strip('"')


def parse_variables(values):
    """
    The C{(name, value)} pairs of every C{Variable:} header (each may hold
    several, comma-separated), in order.
    """
    pairs = []
    for header in values:
        for item in header.split(","):
            name, sep, value = item.partition("=")
            name = name.strip()
            if name and sep:
                pairs.append((name, value))
    return tuple(pairs)


def _int(text):
    try:
        return int(text.strip())
    except (AttributeError, ValueError):
        return None


def originate(session, message):
    pbx = session.pbx
    tally = pbx.tally
    tally.originates += 1
    action_id = message.action_id

    def error(text):
        tally.originate_errors += 1
        session.respond(action_id, "Error", text)

    name = (message.get("Channel") or "").strip()
    if not name:
        return error("Channel not specified")
    channel_id = (message.get("ChannelId") or "").strip()
    other_id = (message.get("OtherChannelId") or "").strip()
    if len(channel_id) > MAX_UNIQUEID or len(other_id) > MAX_UNIQUEID:
        return error("Uniqueid length exceeds maximum of %d" % MAX_UNIQUEID)
    priority_text = (message.get("Priority") or "").strip()
    priority = 1
    if priority_text:
        priority = _int(priority_text)
        if priority is None:
            return error("Invalid priority")
    timeout_text = (message.get("Timeout") or "").strip()
    timeout = 30000
    if timeout_text:
        timeout = _int(timeout_text)
        if timeout is None:
            return error("Invalid timeout")
    technology, slash, data = name.partition("/")
    if not slash:
        return error("Invalid channel")
    context = (message.get("Context") or "").strip()
    exten = (message.get("Exten") or "").strip()
    application = (message.get("Application") or "").strip()
    agi_target = hangup_target = None
    app_data = ""
    if application:
        app_data = message.get("Data") or ""
        if application.lower() == "agi" and app_data.startswith("agi://"):
            url, _, args = app_data.partition(",")
            try:
                agi_target = AGITarget(url, tuple(a for a in args.split(",") if a))
            except ValueError:
                agi_target = None
    else:
        campaign = pbx.dialplan.find(context)
        if campaign is None or not campaign.has_extension(exten, priority):
            return error("Extension does not exist.")
        agi_target, hangup_target = campaign.agi, campaign.hangup
    dest, _, _options = data.partition("/")
    number, _, local_context = dest.partition("@")
    num, cid_name = parse_callerid(message.get("CallerID"))
    request = OriginateRequest(
        action_id=action_id,
        channel=name,
        technology=technology if number else "",
        number=number,
        local_context=local_context or "default",
        local_base="%s/%s@%s" % (technology, number, local_context or "default"),
        dial_string=data,
        context=context,
        exten=exten,
        priority=priority,
        timeout_ms=timeout if timeout > 0 else 30000,
        caller_num=num,
        caller_name=cid_name,
        account=(message.get("Account") or "").strip(),
        variables=parse_variables(message.getall("Variable")),
        channel_id=channel_id,
        other_channel_id=other_id,
        async_=(message.get("Async") or "").strip().lower() in _TRUE,
        agi_target=agi_target,
        hangup_target=hangup_target,
        application=application or "AGI",
        application_data=app_data,
        session=session,
    )
    if request.async_:
        session.respond(action_id, "Success", "Originate successfully queued")
    pbx.originate(request)


def _duration(seconds):
    seconds = int(max(seconds, 0))
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def _id(action_id):
    return (("ActionID", action_id),) if action_id is not None else ()


def core_show_channels(session, message):
    pbx = session.pbx
    action_id = message.action_id
    session.send(
        (("Response", "Success"),)
        + _id(action_id)
        + (("EventList", "start"), ("Message", "Channels will follow"))
    )
    channels = pbx.active_channels()
    now = pbx.now()
    for channel in channels:
        session.send(
            (("Event", "CoreShowChannel"),)
            + _id(action_id)
            + channel.block()
            + (
                ("Application", channel.last_application),
                ("ApplicationData", channel.last_data),
                ("Duration", _duration(now - channel.created)),
                ("BridgeId", ""),
            )
        )
    session.send(
        (("Event", "CoreShowChannelsComplete"),)
        + _id(action_id)
        + (("EventList", "Complete"), ("ListItems", str(len(channels))))
    )


def status(session, message):
    pbx = session.pbx
    action_id = message.action_id
    name = (message.get("Channel") or "").strip()
    if name:
        channel = pbx.find_channel(name)
        if channel is None:
            session.respond(action_id, "Error", "No such channel")
            return
        channels = [channel]
    else:
        channels = pbx.active_channels()
    wanted = [v.strip() for v in (message.get("Variables") or "").split(",") if v.strip()]
    session.send(
        (("Response", "Success"),)
        + _id(action_id)
        + (("EventList", "start"), ("Message", "Channel status will follow"))
    )
    now = pbx.now()
    for channel in channels:
        scope = VariableScope(channel, pbx.globals, pbx.epoch)
        variables = tuple(("Variable", "%s=%s" % (v, scope.read(v) or "")) for v in wanted)
        session.send(
            (("Event", "Status"), ("Privilege", "Call"))
            + channel.block()
            + (
                ("Type", "Local"),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", channel.connected_num),
                ("EffectiveConnectedLineName", channel.connected_name),
                ("TimeToHangup", "0"),
                ("BridgeID", ""),
                ("Application", channel.application),
                ("Data", channel.data),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(now - channel.created))),
            )
            + variables
            + _id(action_id)
        )
    count = str(len(channels))
    session.send(
        (("Event", "StatusComplete"),)
        + _id(action_id)
        + (("EventList", "Complete"), ("ListItems", count), ("Items", count))
    )


def getvar(session, message):
    pbx = session.pbx
    action_id = message.action_id
    variable = (message.get("Variable") or "").strip()
    if not variable:
        session.respond(action_id, "Error", "No variable specified")
        return
    name = (message.get("Channel") or "").strip()
    if name:
        channel = pbx.find_channel(name)
        if channel is None:
            session.respond(action_id, "Error", "No such channel")
            return
        value = VariableScope(channel, pbx.globals, pbx.epoch).read(variable)
    else:
        value = pbx.globals.get(variable)
    session.respond(action_id, "Success", extra=[("Variable", variable), ("Value", value or "")])


def setvar(session, message):
    pbx = session.pbx
    action_id = message.action_id
    variable = (message.get("Variable") or "").strip()
    if not variable:
        session.respond(action_id, "Error", "No variable specified")
        return
    value = message.get("Value") or ""
    name = (message.get("Channel") or "").strip()
    if name:
        channel = pbx.find_channel(name)
        if channel is None:
            session.respond(action_id, "Error", "No such channel")
            return
        channel.variables[variable] = value
        pbx.bus.emit("dialplan", var_set, channel, variable, value)
    else:
        pbx.globals[variable] = value
    session.respond(action_id, "Success", "Variable Set")


def hangup(session, message):
    pbx = session.pbx
    action_id = message.action_id
    name = (message.get("Channel") or "").strip()
    if not name:
        session.respond(action_id, "Error", "No channel specified")
        return
    channel = pbx.find_channel(name)
    if channel is None:
        session.respond(action_id, "Error", "No such channel")
        return
    cause = _int(message.get("Cause") or "") or 0
    session.respond(action_id, "Success", "Channel Hungup")
    pbx.hangup_channel(channel, cause)


def _cli(pbx, command):
    words = command.split()
    if words[:3] == ["core", "show", "version"]:
        return [
            "Asterisk %s built by root @ vm on a x86_64 running Linux on 2026-11-22 11:34:42 UTC"
            % pbx.version
        ]
    if words[:3] == ["core", "show", "channels"]:
        channels = pbx.active_channels()
        lines = ["Channel                                Location                         State   Application(Data)"]
        for channel in channels:
            location = "%s@%s:%s" % (channel.exten, channel.context, channel.priority)
            app = "%s(%s)" % (channel.application, channel.data)
            lines.append("%-38s %-32s %-7s %s" % (channel.name, location, channel.block()[2][1], app))
        lines.append("%d active channel%s" % (len(channels), "" if len(channels) == 1 else "s"))
        lines.append("%d active call%s" % (pbx.active_calls, "" if pbx.active_calls == 1 else "s"))
        lines.append("%d call%s processed" % (pbx.tally.calls_placed, "" if pbx.tally.calls_placed == 1 else "s"))
        return lines
    return [
        "No such command '%s' (type 'core show help %s' for other possible commands)" % (command, command)
    ]


def command(session, message):
    action_id = message.action_id
    text = (message.get("Command") or "").strip()
    # The real response comes in two writes: Response+ActionID, then the rest.
    session.write(b"Response: Success\r\n" + (b"ActionID: %s\r\n" % action_id.encode() if action_id is not None else b""))
    headers = [("Message", "Command output follows")]
    headers += [("Output", line) for line in _cli(session.pbx, text)]
    session.send(headers)


def core_settings(session, message):
    pbx = session.pbx
    session.respond(
        message.action_id,
        "Success",
        extra=[
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", pbx.version),
            ("SystemName", ""),
            ("CoreMaxCalls", str(pbx.capacity * 2)),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        ],
    )


_SYNOPSES = (
    ("Challenge", "Generate Challenge for MD5 Auth.", "<none>"),
    ("Command", "Execute Asterisk CLI Command.", "command,all"),
    ("CoreSettings", "Show PBX core settings (version etc).", "system,reporting,all"),
    ("CoreShowChannels", "List currently active channels.", "system,reporting,all"),
    ("Events", "Control Event Flow.", "<none>"),
    ("Getvar", "Gets a channel variable or function value.", "call,reporting,all"),
    ("Hangup", "Hangup channel.", "system,call,all"),
    ("ListCommands", "List available manager commands.", "<none>"),
    ("Login", "Login Manager.", "<none>"),
    ("Logoff", "Logoff Manager.", "<none>"),
    ("Originate", "Originate a call.", "originate,all"),
    ("Ping", "Keepalive command.", "<none>"),
    ("Setvar", "Sets a channel variable or function value.", "call,all"),
    ("Status", "List channel status.", "system,call,reporting,all"),
)


def list_commands(session, message):
    session.respond(
        message.action_id,
        "Success",
        extra=[(name, "%s  (Priv: %s)" % (synopsis, priv)) for name, synopsis, priv in _SYNOPSES],
    )


ACTIONS = {
    "originate": originate,
    "coreshowchannels": core_show_channels,
    "status": status,
    "getvar": getvar,
    "setvar": setvar,
    "hangup": hangup,
    "command": command,
    "coresettings": core_settings,
    "listcommands": list_commands,
}
