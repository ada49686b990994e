#!/bin/bash
# test_container.sh - the Kubernetes image of the GPU node package builds from the tree with Debian
# packages only (deploy/container/build-image.sh: mmdebstrap from the Debian mirror + umoci, no
# registry), carries the entrypoint deploy/kubernetes/daemonset.yaml expects, and the exporter inside
# it serves the fake GPUs. podman cannot run containers here, so the image is unpacked with umoci and
# run by chroot in its own mount and PID namespaces (unshare), as an unprivileged user.
# The image build takes a minute or two (the mirror download and dpkg): it is this one test.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
for tool in dpkg-buildpackage mmdebstrap umoci unshare chroot; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done

mkdir -p "$T/src"
git -C "$SRC" ls-files -z --cached --others --exclude-standard | (cd "$SRC" && tar --null -cf - -T -) | tar -xf - -C "$T/src"
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -b -us -uc >"$T/build.log" 2>&1) \
    || { tail -n 40 "$T/build.log"; fail "dpkg-buildpackage failed"; }
mkdir -p "$T/debs"
cp "$T"/jobtel_*.deb "$T"/jobtel-node_*.deb "$T/debs/"
VERSION=$(dpkg-deb -f "$T"/debs/jobtel-node_*.deb Version)

sh "$SRC/deploy/container/build-image.sh" "$T/debs" "$T/oci" >"$T/image.log" 2>&1 || fail "build-image.sh failed"
pass "OCI image built: $(du -sh "$T/oci" | cut -f1) (layout, compressed)"

# The image config: what the DaemonSet runs is `jobtel exporter ...`.
"$PY" - "$T/oci" "$VERSION" <<'PY' || fail "image config"
import json, sys, os
root, tag = sys.argv[1:]
idx = json.load(open(os.path.join(root, "index.json")))
m = [d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
assert len(m) == 1, idx
blob = lambda d: os.path.join(root, "blobs", *d["digest"].split(":"))
manifest = json.load(open(blob(m[0])))
cfg = json.load(open(blob(manifest["config"])))["config"]
assert cfg["Entrypoint"] == ["/usr/bin/jobtel"], cfg
assert cfg["Cmd"] == ["exporter"], cfg
assert "9400/tcp" in cfg["ExposedPorts"], cfg
assert len(manifest["layers"]) == 1, manifest
PY
grep -q "image: .*jobtel:" "$SRC/deploy/kubernetes/daemonset.yaml" || fail "the DaemonSet names no jobtel image"

umoci unpack --image "$T/oci:$VERSION" "$T/bundle" >"$T/unpack.log" 2>&1 || fail "umoci unpack"
R=$T/bundle/rootfs
for f in usr/bin/jobtel usr/bin/jobtel-exporter; do [ -x "$R/$f" ] || fail "$f missing from the image"; done
[ ! -e "$R/usr/bin/jobstats" ] || fail "jobstats does not belong in the node image"
if ls "$R"/usr/lib/*/libcurl* >/dev/null 2>&1; then fail "libcurl in the node image"; fi
ls "$R"/usr/lib/*/libnghttp2.so.14 >/dev/null 2>&1 || fail "libnghttp2 (for --kubernetes) missing"
[ -z "$(find "$R/var/lib/apt/lists" -name '*Packages*' 2>/dev/null)" ] || fail "apt lists left in the image"
chroot "$R" dpkg-query -W -f='${Package} ${Version}\n' jobtel-node | grep -qx "jobtel-node $VERSION" \
    || fail "jobtel-node not installed as a package in the image"
echo "image rootfs: $(du -sh "$R" | cut -f1), $(chroot "$R" dpkg-query -W -f='.\n' | wc -l) packages"
pass "image content: the node package and its dependencies, no jobstats/libcurl/apt lists"

# Run the entrypoint as the DaemonSet does without -k (user 65534), against the fake NVML.
mkdir -p "$R/opt/fake"
cp "$FAKE_NVML_LIB" "$R/opt/fake/libnvidia-ml.so.1"
cp "$SCENARIOS/one_gpu.json" "$R/opt/fake/scenario.json"
chmod -R a+rX "$R/opt/fake"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg container env -i FAKE_NVML_SCENARIO=/opt/fake/scenario.json \
    "$(command -v unshare)" --mount --pid --fork --kill-child=SIGTERM --mount-proc="$R/proc" \
    "$(command -v chroot)" --userspec=65534:65534 "$R" /usr/bin/jobtel exporter --web.listen-address="127.0.0.1:$PORT" \
    --collector.gpu.nvml-library=/opt/fake/libnvidia-ml.so.1 --no-collector.cgroup --hostname=image-test
CPID=$LAST_PID
# unshare --fork ignores SIGTERM itself: the exporter (its child, PID 1 of the new namespace) is the one
# to stop, so it joins PIDS for the cleanup as well.
wait_for 10 pgrep -P "$CPID" || fail "the container process did not start"
EPID=$(pgrep -P "$CPID")
PIDS+=("$EPID")
wait_for 20 scrape_has "$PORT" '^DCGM_FI_DEV_GPU_TEMP\{.*hostname="image-test"' \
    || fail "the exporter in the image serves no GPU metrics"
scrape "$PORT" "$T/metrics.prom"
validate "$T/metrics.prom"
kill -TERM "$EPID"
stop_pid "$CPID" || fail "the exporter in the image did not stop cleanly on SIGTERM"
pass "the exporter inside the image serves the fake GPU"
