#!/bin/sh
# build-image.sh - the OCI image of the GPU node package for Kubernetes, from Debian packages only.
#
#   deploy/container/build-image.sh DEB_DIR LAYOUT [TAG] [MIRROR]
#
# DEB_DIR holds the built jobtel_*.deb and jobtel-node_*.deb (dpkg-buildpackage's output). mmdebstrap
# makes a Debian 12 rootfs of the essential packages plus those two (and libnghttp2 for --kubernetes)
# straight from the Debian mirror: no registry is pulled, no base image trusted. umoci packs it as one
# layer into the OCI image layout LAYOUT, tagged TAG (default: the package version), with the
# entrypoint deploy/kubernetes/daemonset.yaml expects (`jobtel`, args `exporter ...`). Push it with
# skopeo:  skopeo copy oci:LAYOUT:TAG docker://registry.example.org/jobtel/jobtel:TAG
# Needs root (or mmdebstrap's unshare mode), mmdebstrap and umoci (scripts/install-deps.sh).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DEB_DIR LAYOUT [TAG] [MIRROR]" >&2; exit 2; }
debdir=$(cd "$1" && pwd)
layout=$2
front=$(ls "$debdir"/jobtel_*.deb | head -n1)
node=$(ls "$debdir"/jobtel-node_*.deb | head -n1)
tag=${3:-$(dpkg-deb -f "$node" Version)}
mirror=${4:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Documentation, man pages and locales are of no use in a container; apt's lists and caches neither.
# file-mirror-automount bind-mounts the .deb files' directory into the chroot for apt.
mmdebstrap --quiet --variant=essential --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    --include="$front" --include="$node" --include=libnghttp2-14 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/ldconfig/aux-cache' \
    bookworm "$work/rootfs.tar" "$mirror"

[ -d "$layout" ] || umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci raw add-layer --image "$layout:$tag" "$work/rootfs.tar"
# No user here: the DaemonSet picks it (65534, or 0 for the kubelet's root-only pod-resources socket).
umoci config --image "$layout:$tag" --config.entrypoint=/usr/bin/jobtel --config.cmd=exporter \
    --config.exposedports=9400/tcp --config.workingdir=/ \
    --config.label=org.opencontainers.image.title=jobtel-node \
    --config.label="org.opencontainers.image.version=$tag" \
    --config.label=org.opencontainers.image.description="jobtel GPU and job exporter, from Debian packages"
umoci gc --layout "$layout"
echo "built $layout:$tag"
