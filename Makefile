# The two commands a fresh machine needs:  make lab   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LANG_CODE ?=
# `make lab LAB_LANG=fr` opens the French notebook (default: from LANG);
# `make lab LAB_LISTEN=0.0.0.0:8888` listens beyond loopback (the token is then the only protection).
LAB_LANG ?=
LAB_LISTEN ?=
# `make lab LAB=snapshot-server` opens the second lab (and, as root, brings up its snapshot server).
LAB ?=
LAB_LANG_OPTION = $(if $(LAB_LANG),--lang $(LAB_LANG)) $(if $(LAB),--lab $(LAB))
BABEL_EXTRACT = $(BIN)/pybabel extract -F babel.cfg -k M:1c,2 --no-default-keywords --add-comments=TRANSLATORS: \
	--project=labkit --version=0.1 --msgid-bugs-address=labkit@example.invalid --copyright-holder="labkit authors" --sort-by-file

.PHONY: lab setup venv test lint unit integration notebooks translations bench screenshots clean

$(BIN)/labkit: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	# compat: a plain path in a .pth file rather than setuptools' import hook, which costs every
	# `labkit check` about 12 ms of start-up (bench/checks.py).
	$(BIN)/pip install --quiet --no-deps -e . --config-settings editable_mode=compat
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (labkit)" >/dev/null
	touch $@

venv: $(BIN)/labkit

## Set everything up (Incus, storage, image, ubuntu-test) and open the lab's notebook in JupyterLab;
## the last lines give its URL (and the `ssh -L` command on a machine without a display).
lab: venv
	$(BIN)/labkit $(LAB_LANG_OPTION) setup
	$(BIN)/labkit $(LAB_LANG_OPTION) lab $(if $(LAB_LISTEN),--listen $(LAB_LISTEN))

setup: venv
	$(BIN)/labkit setup --yes

## The full test suite: unit, integration on a real Incus daemon, notebooks, browser.
## `labkit setup` first, so a fresh machine gets its daemon, storage and image, and (as root) the
## browser tests' chromium and fonts from apt (a no-op afterwards).
test: venv
	$(BIN)/ruff check labkit tests bench scripts
	$(BIN)/labkit setup --yes --test-tools
	$(BIN)/python -m labkit notebooks check
	$(BIN)/pytest -q -p no:cacheprovider tests

unit: venv
	$(BIN)/ruff check labkit tests bench scripts
	$(BIN)/pytest -q tests/unit

## The linter alone (configured in pyproject.toml): pycodestyle, pyflakes, import order, at 120 columns.
lint: venv
	$(BIN)/ruff check labkit tests bench scripts

integration: venv
	$(BIN)/pytest -q tests/integration

## Extract messages, merge them into the French catalogue, compile for the package.
translations: venv
	$(BABEL_EXTRACT) -o translations/labkit.pot labkit
	$(BIN)/pybabel update -D labkit -i translations/labkit.pot -d translations -l fr --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -D labkit -i translations/fr/LC_MESSAGES/labkit.po -o labkit/locale/fr/LC_MESSAGES/labkit.mo --statistics

## Rebuild both notebooks from notebooks/source/ and merge new text into the French catalogue.
notebooks: venv
	$(BIN)/python -m labkit notebooks build
	$(BIN)/pybabel update -D notebooks -i translations/notebooks.pot -d translations -l fr --no-wrap --ignore-obsolete
	$(BIN)/python -m labkit notebooks build

## Regenerate the README's and the guides' screenshots (docs/screenshots/*.png) in Debian's chromium, in both
## languages: the notebook's result boxes on a fresh instance, then a served class (needs root).
screenshots: venv
	$(BIN)/python scripts/screenshots.py
	$(BIN)/python scripts/hub_screenshots.py

bench: venv
	$(BIN)/python bench/checks.py
	$(BIN)/python bench/notebook.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
