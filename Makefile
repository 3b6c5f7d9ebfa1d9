# FTS: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-fts

# Debian packages FTS uses where no pip package does the job: espeak-ng for
# text-to-speech, chromium for the panel's browser tests. Without them FTS runs and says what is missing; the test
# set-up installs them (when run as root) so their tests run.
SYSTEM_PACKAGES = espeak-ng chromium

# trial runs the tests in two processes (each with its own embedded
# PostgreSQL): the suite takes about half the time on a 2-core machine.
# `make test TRIAL_ARGS=` runs them in one.
TRIAL_ARGS ?= --jobs=2

.PHONY: run test venv bench clean system-packages

# Create the virtual environment and install FTS with its test extras.
# "compat" editable mode puts the project root on sys.path, so Twisted finds
# twisted/plugins/fts_plugin.py in the work tree.
$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

venv: $(STAMP)

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (apt-get install$$missing)"; fi; \
	fi

# Start the daemon in the foreground on the embedded defaults: an embedded
# PostgreSQL under ./var/pg and the built-in PBX simulator.
run: venv system-packages
	$(BIN)/twistd --pidfile= -n fts

test: venv system-packages
	$(BIN)/trial $(TRIAL_ARGS) tests

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) _trial_temp* build *.egg-info
