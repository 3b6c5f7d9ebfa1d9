"""
The "campaign finished" notification as a job: when a campaign's state
becomes C{finished}, a job C{notify-finished-<id>} e-mails it, retried by
the job runner when the SMTP server fails.
"""

from twisted.logger import Logger

from fts.core.lifecycle import State
from fts.jobs.job import Job

log = Logger()


def job_name(campaign_id):
    return f"notify-finished-{campaign_id}"


def notify_when_finished(campaigns, runner, notifier, retries=5, retry_delay=300.0):
    """
    Subscribe to C{campaigns}' transitions: each move to C{finished} runs a
    job e-mailing it.

    @return: the unsubscriber.
    """

    def transitioned(campaign_id, move):
        if move.to_state != State.FINISHED:
            return
        name = job_name(campaign_id)
        if name not in {status.name for status in runner.status()}:
            runner.add(Job(name, [lambda _: notifier.notify_finished(campaign_id)],
                           retries=retries, retry_delay=retry_delay,
                           description=f"E-mail that campaign {campaign_id} finished"))
        runner.run_now(name, triggered_by="schedule").addErrback(
            lambda f: log.failure("could not run {job}", f, job=name))

    return campaigns.on_transition(transitioned)
