#!/bin/sh
# install-deps.sh - installs everything jobtel needs to build and to run its whole test suite on
# Debian 12: compilers and libraries, and the real peers the tests drive (Prometheus, Slurm, munge).
# Run as root (CI is root). Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake ninja-build pkg-config git ca-certificates curl \
    libmicrohttpd-dev libjansson-dev libcmocka-dev zlib1g-dev libcurl4-openssl-dev libnghttp2-dev \
    libyaml-dev libgnutls28-dev libcrypt-dev openssl \
    prometheus prometheus-node-exporter wrk python3 python3-prometheus-client python3-yaml \
    python3-grpcio python3-grpc-tools python3-requests \
    slurmctld slurmd slurm-client munge slurmdbd mariadb-server procps iproute2 stress-ng \
    dpkg-dev debhelper fakeroot lintian systemd mmdebstrap umoci clang libclang-rt-14-dev valgrind \
    ansible-core expect tmux chromium victoria-metrics libseccomp-dev >/dev/null
# clang, libclang-rt-14-dev: the libFuzzer targets (tests/fuzz/); valgrind: the soak (tests/soak/).
# dpkg-dev, debhelper, lintian: the Debian packages (tests/e2e/test_packages.sh); systemd: only for
# systemd-analyze verify/security (PID 1 need not be systemd); mmdebstrap, umoci: the OCI image
# (deploy/container/build-image.sh, tests/e2e/test_container.sh). ansible-core: deploy/ansible and
# `jobtel setup` (tests/e2e/test_ansible.sh); expect, tmux: the interactive wizard test; chromium: the
# `jobstats --html` report rendered headless; victoria-metrics: the VictoriaMetrics compatibility tests;
# libseccomp-dev: the seccomp profile test (tests/e2e/test_seccomp.sh).
# kubectl renders deploy/kubernetes in the tests (kubectl kustomize). Debian's is kubernetes-client; a
# kubectl installed otherwise (e.g. the upstream "kubectl" package) owns the same path and does the same.
if ! command -v kubectl >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
