#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium (Playwright's own browser download
# is not used), Xvfb (a display for Electron specs where an Electron runtime exists), Debian's
# PostgreSQL server (the PostgreSQL store's tests start their own in a temporary directory) and the
# official Prometheus client's text-format parser (the /metrics tests read scrapes with it) and
# iproute2 (the two-hosts test puts headless servers in network namespaces).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need+=(python3 python3-prometheus-client)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# The tests run their own servers: no system cluster is created or started by the package.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' | $SUDO tee /etc/postgresql-common/createcluster.d/qb-token-desk-tests.conf >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
