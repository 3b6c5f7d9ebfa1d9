"""
Tests for L{fts.servicetree.OrderedServices}.
"""

from twisted.application import service
from twisted.internet import defer
from twisted.trial import unittest

from fts.servicetree import OrderedServices


class Recorder(service.Service):
    def __init__(self, name, log, start=None, stop=None):
        self.name = name
        self.log = log
        self.start = start
        self.stop = stop

    def startService(self):
        service.Service.startService(self)
        self.log.append(("start", self.name))
        return self.start

    def stopService(self):
        service.Service.stopService(self)
        self.log.append(("stop", self.name))
        return self.stop


class OrderedServicesTests(unittest.SynchronousTestCase):
    def test_start_waits_for_each_child(self):
        """
        A child starts only when the one before it is ready.
        """
        log, db_ready = [], defer.Deferred()
        root = OrderedServices()
        Recorder("db", log, start=db_ready).setServiceParent(root)
        Recorder("dialer", log).setServiceParent(root)
        ready = root.when_ready()
        root.startService()
        self.assertEqual(log, [("start", "db")])
        self.assertNoResult(ready)
        db_ready.callback(None)
        self.assertEqual(log, [("start", "db"), ("start", "dialer")])
        self.successResultOf(ready)
        self.successResultOf(root.when_ready())

    def test_stop_in_reverse_waiting_for_each(self):
        """
        Children stop in reverse order, each after the later one has stopped.
        """
        log, web_stopped = [], defer.Deferred()
        root = OrderedServices()
        Recorder("db", log).setServiceParent(root)
        Recorder("web", log, stop=web_stopped).setServiceParent(root)
        root.startService()
        del log[:]
        stopped = root.stopService()
        self.assertEqual(log, [("stop", "web")])
        web_stopped.callback(None)
        self.assertEqual(log, [("stop", "web"), ("stop", "db")])
        self.successResultOf(stopped)

    def test_start_failure_stops_started_children(self):
        """
        When a child fails to start, those already started are stopped, the
        later ones never start, and the failure is reported.
        """
        log, failures = [], []
        root = OrderedServices(on_start_failure=failures.append)
        Recorder("db", log).setServiceParent(root)
        Recorder("web", log, start=defer.fail(OSError("port in use"))).setServiceParent(root)
        Recorder("jobs", log).setServiceParent(root)
        root.startService()
        self.assertEqual(log, [("start", "db"), ("start", "web"), ("stop", "db")])
        self.assertEqual(len(failures), 1)
        self.failureResultOf(root.when_ready(), OSError)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_stop_during_start(self):
        """
        Stopping while a child is still starting waits for it, stops it, and
        starts nothing after it.
        """
        log, db_ready = [], defer.Deferred()
        root = OrderedServices()
        Recorder("db", log, start=db_ready).setServiceParent(root)
        Recorder("web", log).setServiceParent(root)
        root.startService()
        stopped = root.stopService()
        self.assertNoResult(stopped)
        db_ready.callback(None)
        self.successResultOf(stopped)
        self.assertEqual(log, [("start", "db"), ("stop", "db")])
