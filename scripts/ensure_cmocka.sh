#!/usr/bin/env bash
# Make sure the cmocka development files are installed (the test suite needs
# them). CI runs as root on a fresh machine: install libcmocka-dev with apt-get,
# running `apt-get update` first when the package is not known yet.
set -euo pipefail

[ -f /usr/include/cmocka.h ] && exit 0

echo "ensure_cmocka: /usr/include/cmocka.h missing, installing libcmocka-dev" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "ensure_cmocka: not root and no sudo; install libcmocka-dev by hand" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q libcmocka-dev; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q libcmocka-dev
fi
if [ ! -f /usr/include/cmocka.h ]; then
    echo "ensure_cmocka: libcmocka-dev installed but /usr/include/cmocka.h still missing" >&2
    exit 1
fi
