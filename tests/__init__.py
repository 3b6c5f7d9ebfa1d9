"""
The FTS test suite (run with trial).

Property tests (Hypothesis) use one profile: derandomized, so every run
tries the same examples; no deadline and no "too slow" health check, so a
loaded machine does not fail them; no example database on disk.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fts", derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("fts")
