# FTS: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-fts

.PHONY: run test venv bench clean

# Create the virtual environment and install FTS with its test extras.
# "compat" editable mode puts the project root on sys.path, so Twisted finds
# twisted/plugins/fts_plugin.py in the work tree.
$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

venv: $(STAMP)

# Start the daemon in the foreground on the embedded defaults: an embedded
# PostgreSQL under ./var/pg and the built-in PBX simulator.
run: venv
	$(BIN)/twistd --pidfile= -n fts

test: venv
	$(BIN)/trial $(TRIAL_ARGS) tests

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) _trial_temp* build *.egg-info
