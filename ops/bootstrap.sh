#!/usr/bin/env bash
# Bootstrap a machine for Tally: the venv, the system binaries, Java + Maven, the Kafka jars.
# Idempotent and quick when already done; every step prints one progress line.
#   ops/bootstrap.sh            (or: make bootstrap)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.tally-bootstrap"
PYTHON_MIN="3.11"
JAVA_MIN=17
APT_UPDATED=0

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- system binaries: installed only when missing ------------------------------------
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if ! command -v psql >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    missing+=(postgresql)
fi
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)  # devtools/bench/fold_instructions.py
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the console's browser tests (tests/console)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
else
    say "system binaries present (redis-server, prometheus, postgresql, java, mvn, valgrind)"
fi
# The Debian packages enable system services; Tally runs its own processes instead.

# --- Java 17+ and Maven -----------------------------------------------------------------
command -v java >/dev/null 2>&1 || die "java not found; install Java ${JAVA_MIN}+ (e.g. apt-get install openjdk-17-jre-headless)"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
if [ -z "$java_major" ] || [ "$java_major" -lt "$JAVA_MIN" ]; then
    die "Kafka 4 needs Java ${JAVA_MIN}+, found '${java_major:-unknown}' ($(command -v java)); install openjdk-17-jre-headless or newer and put it first on PATH"
fi
command -v mvn >/dev/null 2>&1 || die "mvn not found; install Maven (apt-get install maven)"
say "java ${java_major} and $(mvn -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g')"

# --- the venv and the package ---------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    python3 -c "import sys; sys.exit(sys.version_info < (3, 11))" \
        || die "python3 >= ${PYTHON_MIN} needed, found $(python3 -V 2>&1)"
    python3 -c "import ensurepip, venv" 2>/dev/null || apt_install python3-venv
    say "creating $VENV"
    python3 -m venv "$VENV"
fi
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -x "$VENV/bin/tally" ]; then
    say "venv up to date (pyproject.toml unchanged)"
else
    say "pip install -e '.[dev]'"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    printf '%s\n' "$want" > "$STAMP"
fi

# --- the Kafka broker jars (Maven Central), cached under the stack home ---------------
"$VENV/bin/python" -m ops.stack.fetch_jars | sed 's/^/bootstrap: /'
say "done"
