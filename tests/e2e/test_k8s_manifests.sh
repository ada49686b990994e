#!/bin/bash
# test_k8s_manifests.sh - deploy/kubernetes/ parses as YAML (python3-yaml) and has what a GPU-node
# DaemonSet needs: selectors that match, the pod-resources hostPath, NODE_NAME from the downward API,
# readiness probe on /-/ready and liveness on /-/healthy, sized resources, a locked-down security context, a Service with scrape annotations
# and a ServiceMonitor that selects it. The container's arguments are checked by the real binary, and
# the kustomization is rendered by kubectl (offline: no cluster needed; Debian package kubernetes-client,
# installed by scripts/install-deps.sh). Without kubectl the test fails.
. "$(dirname "$0")/lib.sh"
D="$SRC/deploy/kubernetes"

"$PY" - "$D" "$T/args" <<'EOF' || fail "manifest check"
import os
import re
import sys

import yaml

d, args_out = sys.argv[1], sys.argv[2]
docs = {}
for name in sorted(os.listdir(d)):
    if name.endswith(".yaml"):
        with open(os.path.join(d, name)) as f:
            for doc in yaml.safe_load_all(f):
                assert doc and "kind" in doc and "apiVersion" in doc, f"{name}: a document without kind/apiVersion"
                docs.setdefault(doc["kind"], []).append(doc)


def need(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def mib(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(q))
    need(m, f"bad memory quantity {q}")
    return int(m.group(1)) * {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[m.group(2)]


for kind in ("Namespace", "DaemonSet", "Service", "ServiceMonitor", "Kustomization"):
    need(len(docs.get(kind, [])) == 1, f"want exactly one {kind}")
ns = docs["Namespace"][0]["metadata"]["name"]

ds = docs["DaemonSet"][0]
need(ds["apiVersion"] == "apps/v1", "DaemonSet apiVersion")
need(ds["metadata"]["namespace"] == ns, "DaemonSet namespace")
sel = ds["spec"]["selector"]["matchLabels"]
pod = ds["spec"]["template"]
need(sel.items() <= pod["metadata"]["labels"].items(), "DaemonSet selector does not match its pod labels")
spec = pod["spec"]
need(any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])), "no toleration for GPU taints")
need(len(spec["containers"]) == 1, "one container")
c = spec["containers"][0]
need(c.get("image"), "container image")
args = c["args"]
need(args[0] == "exporter" and ("--kubernetes" in args or "-k" in args), "exporter -k")
env = {e["name"]: e for e in c.get("env", [])}
need(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName", "NODE_NAME from the downward API")
ports = {p["name"]: p for p in c["ports"]}
need(ports["metrics"]["containerPort"] == 9400, "metrics port 9400")
# Readiness is "collectors fresh", liveness "the daemon's own threads": a liveness probe on readiness
# would restart the pod in a loop while a driver call hangs.
for probe, path in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
    need(c[probe]["httpGet"]["path"] == path and c[probe]["httpGet"]["port"] == "metrics", f"{probe} on {path}")
res = c["resources"]
need(8 <= mib(res["requests"]["memory"]) <= mib(res["limits"]["memory"]) <= 64, "memory request/limit sized from RSS")
need("cpu" in res["requests"], "cpu request")
sc = c["securityContext"]
need(sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, "locked-down container")
need(sc["capabilities"]["drop"] == ["ALL"], "all capabilities dropped")
need(not sc.get("privileged", False), "not privileged")
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["name"]: m for m in c["volumeMounts"]}
need(vols["pod-resources"]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources", "pod-resources hostPath")
need(mounts["pod-resources"]["mountPath"] == "/var/lib/kubelet/pod-resources", "pod-resources mount")
sock = [a.split("=", 1)[1] for a in args if a.startswith("--kubernetes.pod-resources-socket=")]
need(not sock or sock[0].startswith(mounts["pod-resources"]["mountPath"] + "/"), "socket flag inside the mount")

svc = docs["Service"][0]
need(svc["metadata"]["namespace"] == ns, "Service namespace")
need(svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), "Service selector does not match the pods")
ann = svc["metadata"]["annotations"]
need(ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9400", "scrape annotations (strings)")
sp = {p["name"]: p for p in svc["spec"]["ports"]}
need(sp["metrics"]["targetPort"] in ("metrics", 9400), "Service targets the metrics port")

sm = docs["ServiceMonitor"][0]
need(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
need(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(), "ServiceMonitor selects the Service")
need(ns in sm["spec"]["namespaceSelector"]["matchNames"], "ServiceMonitor namespace")
need(sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["path"] == "/metrics", "endpoint")

k = docs["Kustomization"][0]
need(sorted(k["resources"]) == sorted(n for n in os.listdir(d) if n.endswith(".yaml") and n != "kustomization.yaml"),
     "kustomization lists every manifest")

# The container's arguments, with the downward-API variable expanded, for the binary to check.
with open(args_out, "w") as f:
    for a in args[1:]:
        f.write(a.replace("$(NODE_NAME)", "gpu-node-1") + "\n")
EOF
pass "manifests parse and have the required fields"

# Every flag in the DaemonSet is one the exporter accepts (--help last: parsing stops there with 0).
mapfile -t ARGS <"$T/args"
"$JOBTEL" exporter "${ARGS[@]}" --help >/dev/null || fail "the exporter rejects the DaemonSet's arguments: ${ARGS[*]}"
pass "the exporter accepts the DaemonSet's arguments"

command -v kubectl >/dev/null || fail "kubectl not found (Debian: kubernetes-client; run scripts/install-deps.sh)"
kubectl kustomize "$D" >"$T/rendered.yaml" 2>"$T/kubectl.log" || { cat "$T/kubectl.log"; fail "kubectl kustomize"; }
# The rendered objects are exactly the manifests' objects (the Kustomization itself is not one).
"$PY" - "$D" "$T/rendered.yaml" <<'EOF' || fail "kustomize rendered other objects than the manifests hold"
import os, sys, yaml
d, rendered = sys.argv[1], sys.argv[2]
def ids(docs):
    return sorted((x["kind"], x["metadata"]["name"]) for x in docs if x and x["kind"] != "Kustomization")
want = ids(doc for n in os.listdir(d) if n.endswith(".yaml") for doc in yaml.safe_load_all(open(os.path.join(d, n))))
got = ids(yaml.safe_load_all(open(rendered)))
assert got == want and len(got) == 4, (got, want)
EOF
# The check can fail: a kustomization naming a file that does not exist is refused.
cp -r "$D" "$T/broken"
printf '  - missing.yaml\n' >>"$T/broken/kustomization.yaml"
if kubectl kustomize "$T/broken" >/dev/null 2>&1; then fail "kubectl kustomize accepted a missing resource"; fi
pass "kubectl kustomize renders the manifests"
