"""
The PBX simulator: an AMI server and a FastAGI client that behave like
Asterisk 22 (as recorded in ../shared/asterisk-transcripts), with a
configurable model of the called parties.  Used by tests, demos, benchmarks
and the daemon's C{--pbx sim}.

Entry points: L{PBXSimulator} (a Twisted service), L{CalleeModel} /
L{transcript_model} (who answers and what they do), L{load_profile} (JSON),
C{python -m fts.pbxsim}.
"""

from .callee import AnswerBehaviour, CalleeModel, CalleePlan, Override, transcript_model
from .dialplan import Dialplan, SoundLibrary
from .pbx import SimulatedPBX, TransferSettings
from .profile import Profile, load_profile, named_profile
from .service import PBXSimulator
from .tally import Tally

__all__ = [
    "PBXSimulator",
    "SimulatedPBX",
    "CalleeModel",
    "CalleePlan",
    "AnswerBehaviour",
    "Override",
    "transcript_model",
    "Dialplan",
    "SoundLibrary",
    "TransferSettings",
    "Profile",
    "load_profile",
    "named_profile",
    "Tally",
]
