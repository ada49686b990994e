#!/usr/bin/python3
"""soak.py - a simulated day of the exporter: N collection cycles, with the collection clock driven fast.

Usage: soak.py --exporter PATH --nvml-lib PATH --src DIR --work DIR --cycles N [--mode native|asan|valgrind]

Every collector runs every 10 ms (the shortest interval the exporter accepts), so 86,400 cycles (a day at
1 s) take minutes. While it runs:
  - jobs start and end: mapping files (HPC and gpustat) are written and removed, processes come and go in
    the fake procfs;
  - cgroups churn: job directories appear and disappear in a fixture cgroup v2 tree;
  - GPU 1 is lost and returns (the fake NVML's "lost" windows of scenario time: like a real driver's, the
    handles from before a return stay lost, so the exporter must open the GPU again);
  - the kubelet restarts (tests/e2e/kube/fake_kubelet.py killed and started again on the same socket);
  - SIGHUPs arrive; scrapes of /metrics and /api/v1/gpus run.
Cycles are counted from the daemon's own jobtel_scrape_collector_collections_total{collector="gpu"}.
Samples of VmRSS, /proc/PID/fd and /proc/PID/task are taken with the cycle count they belong to.

Assertions (exit 1 and a FAIL line on the first broken one):
  - the daemon stops cleanly on SIGTERM (exit 0); under ASan LeakSanitizer reports nothing, under
    valgrind memcheck finds no error and no definite or indirect leak;
  - RSS is flat: the least-squares slope of RSS over cycles in the second half is below --max-slope KiB
    per 1,000 cycles, asserted natively only: valgrind's own memory is in the figure, and ASan's
    allocator (quarantine, per-thread caches) moves RSS by a megabyte or two either way on its own;
    there LeakSanitizer and memcheck are the leak checks;
  - no fd or thread growth: the least count seen in the last quarter is no higher than the least seen
    in the second quarter (a transient open file or connection thread is not growth; a leak raises the
    floor);
  - GPU 1 came back: seen lost (no reading of it in that scrape: absent, never zero), then seen back with
    its UUID and a reading, more than once;
  - the churn happened: the kubelet restarted, jobs started and ended.
Figures go to stdout, one "soak:" line each.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

PY = "/usr/bin/python3"
UUIDS = ["GPU-%d%d%d%d%d%d%d%d-0000-4000-8000-000000000000" % ((i,) * 8) for i in range(4)]


def fail(msg):
    print("FAIL: soak: " + msg, flush=True)
    sys.exit(1)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Soak:
    def __init__(self, a):
        self.a = a
        self.w = os.path.abspath(a.work)
        self.rng = random.Random(16)
        self.jobs = {}            # jobid -> gpu
        self.next_job = 5000
        self.stats = dict(job_starts=0, job_ends=0, cgroup_adds=0, cgroup_removes=0, kubelet_restarts=0,
                          sighups=0, scrapes=0, api_scrapes=0, gpu1_lost_seen=0, gpu1_back_seen=0,
                          gpu1_returns=0)
        self.gpu1_was_lost = False
        self.samples = []         # (cycles, rss_kib, fds, threads)
        self.kubelet = None
        self.exporter = None

    # --- fixtures -------------------------------------------------------------------------------
    def setup(self):
        w = self.w
        for d in ("hpc", "gpustat", "proc", "gen"):
            os.makedirs(os.path.join(w, d), exist_ok=True)
        cg = os.path.join(w, "cg")
        shutil.copytree(os.path.join(self.a.src, "tests/fixtures/cgroup_v2"), cg, symlinks=True)
        self.scope = os.path.join(cg, "system.slice/slurmstepd.scope")
        self.template = os.path.join(self.scope, "job_x1")
        # GPU 1 is lost for 4 s of every 20 s of scenario time, for as long as a run can take (250
        # windows, 5,000 s), and comes back each time with new handles.
        gpus = []
        for i in range(4):
            gpus.append({"name": "G", "uuid": UUIDS[i], "pci_bus_id": "00000000:%02X:00.0" % (0x18 + i),
                         "minor_number": i, "memory_total_mib": 80000,
                         "processes": [{"pid": 7100 + i, "used_memory_mib": 100}]})
        gpus[1]["lost"] = [[20 * k + 8, 20 * k + 12] for k in range(250)]
        scen = {"schema": 1, "driver_version": "550.144.03",
                "values": {"gpu_util": {"timeline": [[0, 20], [0.5, 60]], "period": 1}, "mem_util": 5,
                           "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000,
                           "energy_mj": {"rate": "power_mw", "initial": 1000000}},
                "gpus": gpus}
        self.scenario = os.path.join(w, "scenario.json")
        with open(self.scenario, "w") as f:
            json.dump(scen, f)
        for i in range(4):
            os.makedirs(os.path.join(w, "proc", str(7100 + i)), exist_ok=True)
            self.set_proc(i, None)
        kube = os.path.join(self.a.src, "tests/e2e/kube")
        subprocess.run([PY, "-m", "grpc_tools.protoc", "-I" + kube, "--python_out=" + w + "/gen",
                        "--grpc_python_out=" + w + "/gen", kube + "/podresources.proto"], check=True)
        self.sock = os.path.join(w, "kubelet.sock")
        self.state = os.path.join(w, "state.json")
        self.set_pods(0)

    def set_proc(self, gpu, jobid):
        path = "/system.slice/slurmstepd.scope/job_%d/step_0/user/task_0" % jobid if jobid else "/user.slice"
        write_atomic(os.path.join(self.w, "proc", str(7100 + gpu), "cgroup"), "0::%s\n" % path)

    def set_pods(self, gen):
        pods = [{"name": "p%d-%d" % (gen, i), "namespace": "ns%d" % (i % 2),
                 "containers": [{"name": "c", "devices": [{"resource_name": "nvidia.com/gpu",
                                                           "device_ids": [UUIDS[i]]}]}]}
                for i in range(4) if (gen + i) % 3]
        write_atomic(self.state, json.dumps({"mode": "ok", "pods": pods}))

    # --- churn ----------------------------------------------------------------------------------
    def job_start(self):
        free = [g for g in range(4) if g not in self.jobs.values()]
        if not free:
            return
        gpu = self.rng.choice(free)
        jobid = self.next_job
        self.next_job += 1
        d = os.path.join(self.scope, "job_%d" % jobid)
        shutil.copytree(self.template, d)
        os.makedirs(os.path.join(d, "step_0/user/task_0"), exist_ok=True)
        self.stats["cgroup_adds"] += 1
        write_atomic(os.path.join(self.w, "hpc", str(gpu)), "%d\n" % jobid)
        write_atomic(os.path.join(self.w, "gpustat", str(gpu)), "%d %d\n" % (jobid, 1000 + gpu))
        self.set_proc(gpu, jobid)
        self.jobs[jobid] = gpu
        self.stats["job_starts"] += 1

    def job_end(self):
        if not self.jobs:
            return
        jobid = self.rng.choice(sorted(self.jobs))
        gpu = self.jobs.pop(jobid)
        self.set_proc(gpu, None)
        for fmt in ("hpc", "gpustat"):
            try:
                os.unlink(os.path.join(self.w, fmt, str(gpu)))
            except FileNotFoundError:
                pass
        shutil.rmtree(os.path.join(self.scope, "job_%d" % jobid))
        self.stats["cgroup_removes"] += 1
        self.stats["job_ends"] += 1

    def start_kubelet(self):
        log = open(os.path.join(self.w, "kubelet.log"), "a")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.kubelet = subprocess.Popen([PY, os.path.join(self.a.src, "tests/e2e/kube/fake_kubelet.py"), self.sock,
                                         os.path.join(self.w, "gen"), self.state], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline or self.kubelet.poll() is not None:
                fail("the fake kubelet did not create its socket")
            time.sleep(0.05)

    def stop_kubelet(self):
        self.kubelet.terminate()
        try:
            self.kubelet.wait(10)
        except subprocess.TimeoutExpired:
            self.kubelet.kill()
            self.kubelet.wait()

    # --- the daemon -----------------------------------------------------------------------------
    def start_exporter(self):
        w, a = self.w, self.a
        env = dict(os.environ, FAKE_NVML_SCENARIO=self.scenario, FAKE_NVML_START_EPOCH="%.6f" % time.time())
        iv = "10ms"
        cmd = [a.exporter, "-a", "127.0.0.1:0", "--collector.gpu.nvml-library=" + a.nvml_lib,
               "--collect.interval=" + iv, "--collect.stale-after=5s", "--collector.cgroup.interval=" + iv,
               "--hpc-job-mapping-dir=" + w + "/hpc", "--slurm.gpustat-dir=" + w + "/gpustat",
               "--path.procfs=" + w + "/proc", "--path.cgroupfs=" + w + "/cg", "--collector.cgroup.version=2",
               "-k", "--kubernetes.pod-resources-socket=" + self.sock,
               # the Python kubelet cannot answer 100 calls a second on a shared CI machine
               "--collector.kubernetes.interval=" + a.kube_interval,
               # The per-job records (totals and timelines) are kept after a job ends, up to a cap: a
               # cache by design, bounded by --accounting.max-records, not a leak. A small cap is reached
               # early in the run, so the second half measures RSS with the cache full (and evicting).
               "--path.accounting=" + w + "/acct", "--accounting.max-records=%d" % a.acct_max_records]
        if a.mode == "valgrind":
            cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                   "--log-file=" + w + "/valgrind.log"] + cmd
        if a.mode == "asan":
            # A small quarantine, so freed memory held by ASan does not read as RSS growth.
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:quarantine_size_mb=8:malloc_context_size=20"
        self.log_path = w + "/exporter.log"
        self.exporter = subprocess.Popen(cmd, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + (300 if a.mode == "valgrind" else 60)
        self.port = None
        while self.port is None:
            if self.exporter.poll() is not None:
                fail("the exporter exited at start: " + open(self.log_path).read()[-2000:])
            if time.monotonic() > deadline:
                fail("the exporter did not say which port it listens on")
            m = re.search(r"listening on .* \(port (\d+)\)", open(self.log_path).read())
            if m:
                self.port = int(m.group(1))
            time.sleep(0.1)

    def get(self, path, timeout=30):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def sample(self, cycles):
        pid = self.exporter.pid
        with open("/proc/%d/status" % pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        fds = len(os.listdir("/proc/%d/fd" % pid))
        threads = len(os.listdir("/proc/%d/task" % pid))
        self.samples.append((cycles, rss, fds, threads))

    # --- the run --------------------------------------------------------------------------------
    def run(self):
        a = self.a
        self.setup()
        self.start_kubelet()
        self.start_exporter()
        collections = {}
        last_kubelet = last_hup = time.monotonic()
        i = 0
        stall_deadline = time.monotonic() + 300
        last_cycles = -1
        return_deadline = None
        while True:
            if self.exporter.poll() is not None:
                fail("the exporter died (exit %s): %s" % (self.exporter.returncode, open(self.log_path).read()[-3000:]))
            status, body = self.get("/metrics")
            self.stats["scrapes"] += 1
            if status == 200:
                collections = {m.group(1): int(m.group(2)) for m in re.finditer(
                    r'^jobtel_scrape_collector_collections_total\{collector="([a-z_]+)"\} (\d+)$', body, re.M)}
                self.check_gpu1(body)
            cycles = collections.get("gpu", 0)
            if cycles != last_cycles:
                last_cycles = cycles
                stall_deadline = time.monotonic() + 300
            elif time.monotonic() > stall_deadline:
                fail("no GPU collection finished for 300 s (at %d cycles)" % cycles)
            if cycles:
                self.sample(cycles)
            if cycles >= a.cycles:
                # A short run (valgrind) may end before GPU 1's first return: it goes on until then (the
                # windows recur every 20 s of scenario time), within a deadline.
                if self.stats["gpu1_returns"]:
                    break
                if return_deadline is None:
                    return_deadline = time.monotonic() + 180
                elif time.monotonic() > return_deadline:
                    fail("GPU 1 did not come back within 180 s after %d cycles (seen lost %d times)"
                         % (cycles, self.stats["gpu1_lost_seen"]))
            if i % 3 == 0:
                self.get("/api/v1/gpus")
                self.stats["api_scrapes"] += 1
            r = self.rng.random()
            if r < 0.3 * a.job_churn:
                self.job_start()
            elif r < 0.55 * a.job_churn:
                self.job_end()
            now = time.monotonic()
            # By the clock, and at least once whatever the pace (a short run under valgrind).
            if now - last_hup > a.hup_every or (not self.stats["sighups"] and cycles >= a.cycles // 3):
                self.exporter.send_signal(signal.SIGHUP)
                self.stats["sighups"] += 1
                last_hup = now
            if now - last_kubelet > a.kubelet_every or (not self.stats["kubelet_restarts"] and cycles >= a.cycles // 2):
                self.stop_kubelet()
                self.set_pods(self.stats["kubelet_restarts"] + 1)
                self.start_kubelet()
                self.stats["kubelet_restarts"] += 1
                last_kubelet = now
            i += 1
            time.sleep(a.step)
        self.stop(collections)

    def check_gpu1(self, body):
        """GPU 1 in one scrape: lost with no reading (absent, never a zero), or up with its own UUID and a
        reading. A return is counted when a lost scrape is followed by an up one."""
        up = re.search(r'^jobtel_gpu_up\{[^}]*gpu="1"[^}]*\} ([01])$', body, re.M)
        util = re.search(r'^DCGM_FI_DEV_GPU_UTIL\{gpu="1",UUID="%s"[^}]*\} (\d+)$' % UUIDS[1], body, re.M)
        if not up:
            return  # before the first GPU collection
        if up.group(1) == "0":
            if re.search(r'^DCGM_FI_DEV_\w+\{gpu="1",', body, re.M):
                fail("GPU 1 is lost but still has readings:\n" + body[:3000])
            self.stats["gpu1_lost_seen"] += 1
            self.gpu1_was_lost = True
        elif self.stats["gpu1_lost_seen"]:
            self.stats["gpu1_back_seen"] += 1
            if not util or int(util.group(1)) not in (20, 60):
                fail("GPU 1 is back without its reading (UUID %s, utilization 20 or 60):\n%s" % (UUIDS[1], body[:3000]))
            if self.gpu1_was_lost:
                self.stats["gpu1_returns"] += 1
                self.gpu1_was_lost = False

    def stop(self, collections):
        a = self.a
        if a.job_churn:
            _, body = self.get("/metrics")
            m = re.search(r"^jobtel_job_accounting_evictions_total(?:\{[^}]*\})? (\S+)$", body, re.M)
            self.stats["accounting_evictions"] = int(float(m.group(1))) if m else -1
        self.exporter.send_signal(signal.SIGTERM)
        try:
            rc = self.exporter.wait(600 if a.mode == "valgrind" else 120)
        except subprocess.TimeoutExpired:
            self.exporter.kill()
            fail("the exporter did not stop within the deadline after SIGTERM")
        self.stop_kubelet()
        log = open(self.log_path).read()
        for k in sorted(collections):
            print("soak: collections %s=%d" % (k, collections[k]))
        for k in sorted(self.stats):
            print("soak: %s=%d" % (k, self.stats[k]))
        if rc != 0:
            vg = open(self.w + "/valgrind.log").read()[-4000:] if a.mode == "valgrind" else ""
            fail("the exporter exited %d after SIGTERM:\n%s\n%s" % (rc, log[-4000:], vg))
        if re.search(r"LeakSanitizer|AddressSanitizer|runtime error:", log):
            fail("sanitizer report:\n" + log[-4000:])
        if a.mode == "valgrind":
            vg = open(self.w + "/valgrind.log").read()
            if vg.strip():
                fail("valgrind reported:\n" + vg[-4000:])
        self.check()

    def check(self):
        a, s = self.a, self.samples
        if len(s) < 20:
            fail("only %d samples" % len(s))
        half = s[len(s) // 2:]
        xs = [c for c, _, _, _ in half]
        ys = [r for _, r, _, _ in half]
        n = len(half)
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
        slope_k = slope * 1000  # KiB per 1,000 cycles
        q = len(s) // 4
        fd2, fd4 = min(x[2] for x in s[q:2 * q]), min(x[2] for x in s[3 * q:])
        th2, th4 = min(x[3] for x in s[q:2 * q]), min(x[3] for x in s[3 * q:])
        with open(os.path.join(self.w, "samples.csv"), "w") as f:
            f.write("cycles,rss_kib,fds,threads\n")
            for row in s:
                f.write("%d,%d,%d,%d\n" % row)
        print("soak: samples=%d cycles_first=%d cycles_last=%d" % (len(s), s[0][0], s[-1][0]))
        print("soak: rss_kib start=%d half=%d end=%d max=%d" % (s[0][1], half[0][1], s[-1][1], max(x[1] for x in s)))
        print("soak: rss_slope_kib_per_1000_cycles=%.3f (bound %.3f, second half, %d samples)" % (slope_k, a.max_slope, n))
        print("soak: fds start=%d end=%d floor_q2=%d floor_q4=%d max=%d" % (s[0][2], s[-1][2], fd2, fd4, max(x[2] for x in s)))
        print("soak: threads start=%d end=%d floor_q2=%d floor_q4=%d max=%d" % (s[0][3], s[-1][3], th2, th4, max(x[3] for x in s)))
        st = self.stats
        # The fake brings GPU 1 back after each window, with new handles: the exporter must open it again
        # (src/collectors/gpu_nvml.c, with a back-off) and see it back, more than once in a long enough run.
        if not st["gpu1_lost_seen"]:
            fail("GPU 1 was never seen lost")
        if not st["gpu1_returns"]:
            fail("GPU 1 never came back after a loss")
        if s[-1][0] >= 5000 and a.mode != "valgrind" and st["gpu1_returns"] < 2:
            fail("GPU 1 came back only %d time(s)" % st["gpu1_returns"])
        if a.job_churn and (st["job_starts"] < 2 or st["job_ends"] < 2):
            fail("too little job churn")
        # The RSS slope is only a leak check if the records' cap was reached: ended jobs were evicted.
        if a.job_churn and s[-1][0] >= 5000 and st.get("accounting_evictions", 0) < 1:
            fail("the per-job records never reached their cap (%d evictions): raise the churn or lower "
                 "--acct-max-records" % st.get("accounting_evictions", -1))
        if a.kubelet_every < 1e9 and st["kubelet_restarts"] < 1:
            fail("the kubelet never restarted")
        if st["sighups"] < 1:
            fail("no SIGHUP was sent")
        if a.mode == "native" and slope_k >= a.max_slope:
            fail("RSS grows: %.3f KiB per 1,000 cycles over the second half (bound %.3f)" % (slope_k, a.max_slope))
        if fd4 > fd2:
            fail("fds grow: floor %d in the second quarter, %d in the last" % (fd2, fd4))
        if th4 > th2:
            fail("threads grow: floor %d in the second quarter, %d in the last" % (th2, th4))
        print("PASS: soak %s: %d cycles" % (a.mode, s[-1][0]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--exporter", required=True)
    p.add_argument("--nvml-lib", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--cycles", type=int, default=86400)
    p.add_argument("--mode", choices=["native", "asan", "valgrind"], default="native")
    p.add_argument("--max-slope", type=float, default=1.0, help="KiB per 1,000 cycles")
    p.add_argument("--step", type=float, default=0.1, help="seconds between churn steps")
    p.add_argument("--hup-every", type=float, default=5.0)
    p.add_argument("--kubelet-every", type=float, default=30.0)
    p.add_argument("--kube-interval", default="100ms")
    p.add_argument("--job-churn", type=float, default=1.0, help="0: no job starts or ends (for comparison)")
    p.add_argument("--acct-max-records", type=int, default=32,
                   help="the exporter's --accounting.max-records (reached early, so RSS is measured at the cap)")
    a = p.parse_args()
    Soak(a).run()


if __name__ == "__main__":
    main()
