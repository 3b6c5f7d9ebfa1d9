"""
Run the PBX simulator as its own process::

    python -m fts.pbxsim --ami tcp:5038:interface=127.0.0.1 --agi 127.0.0.1:4573 \\
        --scale 0.01 --profile transcript --seed 1

C{--callee-config FILE.json} loads a callee model (see L{fts.pbxsim.profile}).
On SIGINT/SIGTERM it sends the AMI Shutdown event, stops, and prints the
tally as JSON on stdout.
"""

import argparse
import gc
import json
import sys

from twisted.internet import defer, task
from twisted.logger import globalLogBeginner, textFileLogObserver

from .profile import PROFILE_NAMES, load_profile, named_profile
from .service import PBXSimulator, parse_agi_address


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m fts.pbxsim", description="Simulated Asterisk 22 (AMI + FastAGI client) for FTS tests and benchmarks.")
    parser.add_argument("--ami", default="tcp:5038:interface=127.0.0.1", help="AMI server endpoint (default %(default)s)")
    parser.add_argument("--agi", default="127.0.0.1:4573", help="FastAGI server HOST:PORT answered calls connect to (default %(default)s)")
    parser.add_argument("--scale", type=float, default=1.0, help="clock seconds per simulated second (0.01: 100x faster)")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="random", help="built-in callee model (default %(default)s)")
    parser.add_argument("--callee-config", metavar="FILE", help="callee model JSON file (instead of --profile)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    parser.add_argument("--capacity", type=int, default=1000, help="calls at once before Originates fail (default %(default)s)")
    parser.add_argument("--username", default="fts", help="AMI username (default %(default)s)")
    parser.add_argument("--secret", default="fts", help="AMI secret (default %(default)s)")
    parser.add_argument("--context", default="fts-campaign", help="campaign context (default %(default)s)")
    parser.add_argument("--agi-script", default="call", help="FastAGI script of answered calls (default %(default)s)")
    parser.add_argument("--hangup-script", default="hangup", help="FastAGI script of the h extension, '' for none (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="do not log to stderr")
    return parser.parse_args(argv)


def main(argv=None):
    """
    Entry point of C{python -m fts.pbxsim} and C{fts-pbxsim}.
    """
    args = _arguments(sys.argv[1:] if argv is None else argv)
    try:
        parse_agi_address(args.agi)
        if args.callee_config:
            profile = load_profile(args.callee_config, seed=args.seed)
        else:
            profile = named_profile(args.profile, seed=args.seed)
        if args.scale <= 0:
            raise ValueError("--scale must be > 0")
    except (OSError, ValueError) as e:
        print("fts.pbxsim: %s" % (e,), file=sys.stderr)
        return 2
    if not args.quiet:
        globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    task.react(_run, (args, profile))  # exits: 0 when stopped, 1 on failure


def _run(reactor, args, profile):
    """
    Run the simulator on C{reactor} until SIGINT/SIGTERM (or a failure to
    listen); print its tally as JSON when it has stopped.
    """
    simulator = PBXSimulator(
        reactor,
        ami_endpoint=args.ami,
        agi_address=args.agi,
        credentials={args.username: args.secret},
        callee=profile.callee,
        capacity=args.capacity,
        scale=args.scale,
        sounds=profile.sounds,
        transfer=profile.transfer,
        context=args.context,
        agi_script=args.agi_script,
        hangup_script=args.hangup_script or None,
        seed=args.seed,
    )
    done = defer.Deferred()

    def failed(failure):
        print("fts.pbxsim: %s" % (failure.getErrorMessage(),), file=sys.stderr)
        if not done.called:
            done.errback(failure)

    def stopped(_):
        print(json.dumps(simulator.tally.snapshot(), sort_keys=True), flush=True)

    simulator.listening.addErrback(failed)
    # Thousands of short-lived calls a second: keep start-up objects out of
    # the collector's way and collect young objects less often.
    gc.freeze()
    gc.set_threshold(20000, 20, 20)
    simulator.startService()
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: simulator.stopService().addCallback(stopped))
    return done


if __name__ == "__main__":
    sys.exit(main())
