"""
FTS: automated outbound voice campaigns on Asterisk, one Twisted daemon.
"""

import glob

from setuptools import find_packages, setup

setup(
    name="fts",
    version="0.1.0",
    description="Automated outbound voice campaigns on Asterisk (twistd fts)",
    python_requires=">=3.11",
    # twisted.plugins has no __init__.py on purpose: the plugin module is
    # installed into Twisted's own plugin package.
    packages=find_packages(exclude=["tests", "tests.*", "bench", "bench.*"])
    + ["twisted.plugins"],
    package_data={"fts.db": ["migrations/*.sql"], "fts.web": ["static/*"]},
    # The panel's templates live at the top level (templates/); an install
    # that is not editable puts them under <prefix>/share/fts/templates.
    data_files=[("share/fts/templates", sorted(glob.glob("templates/*.html")))],
    include_package_data=True,
    install_requires=[
        "twisted[tls]>=24.7",
        "txpostgres==1.7.0",
        "psycopg2-binary>=2.9,<3",
        "klein>=24.8",
        "jinja2>=3.1",
        "attrs>=23.1",
        # Embedded PostgreSQL 16 binaries in a wheel: the default store when
        # no DSN is configured, and the test database.
        "pgserver==0.1.4",
        # treq: Twisted's HTTP client; StubTreq tests the web routes in memory.
        "treq>=24.9",
        # Audio: libsndfile (bundled in the wheel, reads WAV/FLAC/OGG/MP3) and
        # the soxr resampler, instead of spawning sox/ffmpeg per upload.
        "soundfile>=0.13,<0.15",
        "soxr>=0.5,<2",
        "numpy>=1.26",
    ],
    extras_require={
        "test": [
            "hypothesis>=6.100",
            # Browser tests drive Debian's /usr/bin/chromium (never a
            # downloaded browser: `playwright install` is not used).
            "playwright>=1.50",
        ],
    },
    entry_points={
        "console_scripts": [
            "fts-pbxsim = fts.pbxsim.__main__:main",
        ],
    },
)
