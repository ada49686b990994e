#!/usr/bin/python3
"""fake_kubelet.py - a stand-in kubelet pod-resources server for the e2e tests: real gRPC (python3-grpcio)
serving the v1 List on a unix socket.

Usage: fake_kubelet.py SOCKET GENDIR STATE.json

GENDIR holds the stubs generated from podresources.proto at test time. STATE.json is re-read on every
call, so a test changes the answer by rewriting it (atomically: write + rename):
  {"mode": "ok" | "exhausted" | "unavailable" | "hang",   (hang: hold the call until the mode changes,
   "hang_s": 3,                                             the caller gives up, or hang_s seconds pass)
   "pods": [{"name": "x", "namespace": "default",
             "containers": [{"name": "main", "devices": [{"resource_name": "nvidia.com/gpu",
                                                          "device_ids": ["GPU-..."]}]}]}]}
Each call appends one line to STATE.json + ".calls" (the test checks the call rate).
"""
import json
import signal
import sys
import time
from concurrent import futures

import grpc

sock, gendir, state_path = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, gendir)
import podresources_pb2 as pb  # noqa: E402
import podresources_pb2_grpc as pbg  # noqa: E402


class Lister(pbg.PodResourcesListerServicer):
    def List(self, request, context):
        with open(state_path + ".calls", "a") as f:
            f.write("1\n")
        with open(state_path) as f:
            state = json.load(f)
        mode = state.get("mode", "ok")
        if mode == "exhausted":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "rejected by rate limit")
        if mode == "hang":
            # Held until the test changes the mode, the caller gives up, or hang_s passes: a caller that
            # returns before the test releases it can only have given up on its own deadline.
            end = time.monotonic() + float(state.get("hang_s", 300))
            while time.monotonic() < end and context.is_active():
                time.sleep(0.05)
                with open(state_path) as f:
                    if json.load(f).get("mode", "ok") != "hang":
                        break
        if mode == "unavailable":
            context.abort(grpc.StatusCode.UNAVAILABLE, "kubelet is shutting down")
        pods = []
        for p in state.get("pods", []):
            containers = []
            for c in p.get("containers", []):
                devs = [pb.ContainerDevices(resource_name=d["resource_name"], device_ids=d["device_ids"],
                                            topology=pb.TopologyInfo(nodes=[pb.NUMANode(ID=0)]))
                        for d in c.get("devices", [])]
                containers.append(pb.ContainerResources(name=c["name"], devices=devs, cpu_ids=[0, 1],
                                                        memory=[pb.ContainerMemory(memory_type="memory", size=1 << 30)]))
            pods.append(pb.PodResources(name=p["name"], namespace=p["namespace"], containers=containers))
        return pb.ListPodResourcesResponse(pod_resources=pods)


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
pbg.add_PodResourcesListerServicer_to_server(Lister(), server)
if server.add_insecure_port("unix://" + sock) != 1:
    sys.exit("cannot listen on " + sock)
server.start()
signal.signal(signal.SIGTERM, lambda *a: server.stop(0))
server.wait_for_termination()
