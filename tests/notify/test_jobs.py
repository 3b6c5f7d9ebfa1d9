"""
Tests for L{fts.notify.jobs}.
"""

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial import unittest

from fts.core.lifecycle import State, Transition, Trigger
from fts.jobs.runner import JobRunner
from fts.notify.jobs import job_name, notify_when_finished


class FakeCampaigns:
    """The transition-listener part of the campaign store."""

    def __init__(self):
        self.listeners = []

    def on_transition(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def moved(self, campaign_id, to_state):
        move = Transition(State.RUNNING, to_state, Trigger.FINISH_COMPLETED, "", "sweeper")
        for listener in self.listeners:
            listener(campaign_id, move)


class RecordingNotifier:
    def __init__(self, failures=0):
        self.sent = []
        self.failures = failures

    def notify_finished(self, campaign_id):
        if self.failures:
            self.failures -= 1
            return defer.fail(ConnectionRefusedError("smtp down"))
        self.sent.append(campaign_id)
        return {"campaign_id": campaign_id, "sent": True}


class NotifyWhenFinishedTests(unittest.SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.runner = JobRunner(self.clock)
        self.runner.startService()
        self.campaigns = FakeCampaigns()

    def test_finished_sends(self):
        """
        A campaign moving to finished is e-mailed once, by its own job.
        """
        notifier = RecordingNotifier()
        notify_when_finished(self.campaigns, self.runner, notifier)
        self.campaigns.moved(7, State.FINISHED)
        self.clock.advance(0)
        self.assertEqual(notifier.sent, [7])
        self.assertIn(job_name(7), [s.name for s in self.runner.status()])

    def test_other_moves_send_nothing(self):
        """
        Only the move to finished sends the finished e-mail.
        """
        notifier = RecordingNotifier()
        notify_when_finished(self.campaigns, self.runner, notifier)
        self.campaigns.moved(7, State.PAUSED)
        self.clock.advance(0)
        self.assertEqual(notifier.sent, [])

    def test_failures_are_retried(self):
        """
        An SMTP failure is retried by the job runner after its delay.
        """
        notifier = RecordingNotifier(failures=1)
        notify_when_finished(self.campaigns, self.runner, notifier, retry_delay=60)
        self.campaigns.moved(8, State.FINISHED)
        self.clock.advance(0)
        self.assertEqual(notifier.sent, [])
        self.clock.advance(60)
        self.assertEqual(notifier.sent, [8])
        self.flushLoggedErrors(ConnectionRefusedError)
