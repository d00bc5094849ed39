#!/usr/bin/env bash
# Set-up steps shared by scripts/test.sh and scripts/stack.sh: install what is missing, sync the workspace.
# Sourced, not run; expects `root` (the checkout) and `die` to be defined by the caller.

apt_updated=0
apt_install() {
    [ "$(id -u)" -eq 0 ] || die "missing $*: install it (apt-get install $*) or run as root"
    command -v apt-get >/dev/null || die "missing $* and no apt-get to install it"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" -eq 0 ]; then apt-get update -qq || die "apt-get update failed"; apt_updated=1; fi
    echo "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

ensure_uv() {
    if command -v uv >/dev/null; then return 0; fi
    if ! command -v python3 >/dev/null; then apt_install python3 python3-pip; fi
    local user_bin
    user_bin="$(python3 -m site --user-base)/bin"
    export PATH="$user_bin:$PATH"
    if command -v uv >/dev/null; then return 0; fi
    if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
    echo "installing uv with pip"
    python3 -m pip install --quiet --user uv 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
        || python3 -m pip install --quiet uv \
        || die "could not install uv with pip"
    hash -r
    command -v uv >/dev/null || die "uv was installed but is not on PATH (looked in $user_bin)"
}

uv_sync() {
    unset VIRTUAL_ENV
    if [ -f uv.lock ]; then
        uv sync --all-packages --locked \
            || { echo "uv sync --locked failed; if pyproject.toml changed, run 'uv lock' and commit uv.lock" >&2; return 1; }
    else
        uv sync --all-packages
    fi
}


# Printable bills: WeasyPrint renders PDF with Pango and HarfBuzz (Debian's libraries) and a font.
ensure_pdf_libraries() {
    if ldconfig -p | grep -q 'libpango-1.0.so' && ldconfig -p | grep -q 'libharfbuzz-subset.so' \
        && fc-list 2>/dev/null | grep -qi dejavu; then
        return 0
    fi
    apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig
}
