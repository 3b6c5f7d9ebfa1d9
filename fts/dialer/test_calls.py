"""
Test calls: one call, now, to one number typed by an operator, with a
campaign's message and settings (caller ID, AMD, menu), outside its contact
list -- to hear the message before confirming, or to check a line.

The call is placed through the dialer's own lines and registry
(L{fts.dialer.pacer.Dialer.test_call}), its placeholders filled with the
fields of the first contact of the campaign's list: it counts against the channel
limits like any call, the call flow plays it like any call, and its row in
C{calls} has C{is_test_call = true}, no contact and no attempt number, so
reports and the answer rate never count it and it is never retried.

This module is the front the panel and the API use: it checks the number
(the same normalisation as contact lists), the campaign, and that a PBX
line is up, and turns every refusal into a sentence for the operator
(L{TestCallRefused}).
"""

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts.core.phones import PhoneError, PhoneRules
from fts.dialer import line as L
from fts.dialer.pacer import NoCapacity

__all__ = ["TestCallPlacer", "TestCallRefused", "InvalidNumber", "NoLine", "UnknownCampaign",
           "PlacedTestCall"]

log = Logger()


class TestCallRefused(Exception):
    """
    No test call was placed; C{str(error)} says why, for the operator.
    """


class InvalidNumber(TestCallRefused):
    """
    The number typed cannot be dialed (C{reason} from L{PhoneRules}).
    """


class NoLine(TestCallRefused):
    """
    No PBX line can take the call now (none configured or connected, or
    this daemon is not the one dialing).
    """


class UnknownCampaign(TestCallRefused):
    """
    No campaign has that id.
    """


@attr.frozen
class PlacedTestCall:
    """
    A test call the PBX accepted: its C{calls.id}, the number dialed
    (normalised) and the campaign.
    """

    call_id: int
    number: str
    campaign_id: int


class TestCallPlacer:
    """
    Places test calls through a L{fts.dialer.pacer.Dialer}.

    @param dialer: the daemon's L{Dialer}.
    @param phone_rules: the L{PhoneRules} contact lists are read with.
    @param sample_fields: C{sample_fields(campaign_id)} -> Deferred of the
        field values the message's placeholders take (the first contact of
        the campaign's list: L{fts.db.calls.CallsQuery.sample_fields}), or
        L{None}: no fields (a message with placeholders is then refused).
    """

    # Not a test case, whatever the name of its module says.
    __test__ = False

    def __init__(self, dialer, phone_rules=None, sample_fields=None):
        self.dialer = dialer
        self.phone_rules = phone_rules or PhoneRules()
        self.sample_fields = sample_fields

    def lines(self):
        """
        C{{pbx name: connected}} of the dialer's lines.
        """
        return {name: bool(entry.line.connected) for name, entry in self.dialer.lines.items()}

    def normalise(self, text):
        """
        The number to dial for C{text}.

        @raise InvalidNumber: with the reason.
        """
        try:
            return self.phone_rules.normalise(text or "")
        except PhoneError as e:
            raise InvalidNumber(e.reason) from None

    def _check_lines(self):
        lines = self.lines()
        if not lines:
            raise NoLine("No PBX is configured in this daemon; the test call was"
                                  " not placed.")
        if not any(lines.values()):
            raise NoLine(
                "No PBX line is up (" + ", ".join(sorted(lines)) + ": not connected);"
                " the test call was not placed.")
        if not self.dialer.active:
            raise NoLine("This daemon is not dialing now (it is on standby or"
                                  " stopping); the test call was not placed.")

    @defer.inlineCallbacks
    def place(self, campaign_id, phone, actor="system:test-call"):
        """
        Call C{phone} now with campaign C{campaign_id}'s message.

        @param actor: who asked, for the log (C{"user:alice"}).
        @return: a Deferred firing with a L{PlacedTestCall} once the PBX has
            accepted the call; failing with L{TestCallRefused} (or its
            subclasses) when it was not placed.
        """
        number = self.normalise(phone)
        self._check_lines()
        records = yield self.dialer.store.campaigns([campaign_id], any_state=True)
        if not records:
            raise UnknownCampaign(f"There is no campaign {campaign_id}.")
        settings = records[0].settings
        if not settings.message:
            raise TestCallRefused("The campaign has no message yet; add one before a"
                                  " test call.")
        fields = {}
        if self.sample_fields is not None:
            fields = yield self.sample_fields(campaign_id)
        try:
            call_id = yield self.dialer.test_call(campaign_id, number, actor=actor,
                                                  fields=fields)
        except NoCapacity as e:
            raise NoLine(f"The test call was not placed: {e}.") from None
        except L.PBXUnavailable as e:
            raise NoLine(f"No PBX line is up ({e}); the test call was not"
                                  " placed.") from None
        except L.OriginateRefused as e:
            raise TestCallRefused(f"The PBX refused the test call ({e}).") from None
        except L.OriginateUncertain as e:
            raise TestCallRefused(f"The PBX did not confirm the test call ({e}); it may"
                                  " still ring.") from None
        except KeyError:
            raise UnknownCampaign(f"There is no campaign {campaign_id}.") from None
        except Exception as e:
            # The message could not be rendered (text-to-speech, audio missing).
            log.failure("test call to {number} for campaign {campaign} failed",
                        number=number, campaign=campaign_id)
            raise TestCallRefused(f"The test call was not placed: {e}") from None
        log.info("test call {call_id} to {number} for campaign {campaign} by {actor}",
                 call_id=call_id, number=number, campaign=campaign_id, actor=actor)
        return PlacedTestCall(call_id=call_id, number=number, campaign_id=campaign_id)
