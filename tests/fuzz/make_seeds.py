#!/usr/bin/python3
"""make_seeds.py - writes the seed corpora of tests/fuzz/corpus/<target>/ (run from the repository root).

Seeds are small valid inputs (and a few near misses) for each parser, hand-made or taken from
tests/fixtures; they are committed, so this script only documents and regenerates them.
"""
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(ROOT, "..", "fixtures")


def fixture(rel):
    with open(os.path.join(FIX, rel), "rb") as f:
        return f.read()


seeds = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, {})[name] = data


# counters CSV (dcgm-exporter's format)
add("counters_csv", "basic", "# Format\n# DCGM FIELD, Prometheus metric type, help message\n\n"
    "DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).\r\n"
    "  DCGM_FI_DEV_GPU_UTIL ,gauge,\"GPU utilization, in %\"\n"
    "DCGM_FI_DRIVER_VERSION, label, Driver Version\n"
    "DCGM_FI_DEV_XID_ERRORS, counter, \"say \"\"hi\"\"\"")
add("counters_csv", "bad_type", "DCGM_FI_DEV_POWER_USAGE, gaug, Power\n")
add("counters_csv", "profiling", "DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.\n"
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Tensor.\nDCGM_FI_DEV_FB_USED, gauge, \"Framebuffer \"\"used\"\"\"\n")

# mapping files: format byte (0 HPC, 1 gpustat), name line, content
add("jobmap", "hpc_index", b"\x00" + b"3\n" + b"1234\n5678\n")
add("jobmap", "hpc_mig", b"\x00" + b"3.1\n" + b"42\n")
add("jobmap", "gpustat_uuid", b"\x01" + b"GPU-3a5c1b2e-0000-1111-2222-333344445555\n" + b"1234 1001\n99\t0\n")
add("jobmap", "gpustat_bad", b"\x01" + b"MIG-x\n" + b"0\n12 x\n  \n18446744073709551615 4294967295\n")

# cgroup files: selector byte (0 keyed, 1 usage_all, 2 u64, 3 limit, 4 proc status, 5 cpulist), text
add("cgroup", "cpu_stat", b"\x00" + fixture("cgroup_v2/cpu.stat"))
add("cgroup", "memory_stat", b"\x08" + fixture("cgroup_v2/memory.stat"))
add("cgroup", "usage_all", b"\x01" + fixture("cgroup_v1/cpuacct/slurm/uid_1001/cpuacct.usage_all"))
add("cgroup", "u64", b"\x02" + fixture("cgroup_v2/system.slice/memory.current"))
add("cgroup", "limit", b"\x03max\n")
add("cgroup", "limit_num", b"\x03" + b"17179869184\n")
add("cgroup", "status", b"\x04" + fixture("cgroup_procfs/5100/status"))
add("cgroup", "cpulist", b"\x05" + b"0-3,8,10-11\n")

# cgroup paths: selector (0 path, 1 /proc/<pid>/cgroup text, 2 single names)
add("cgpath", "v2_task", b"\x00/system.slice/slurmstepd.scope/job_5/step_0/user/task_0")
add("cgpath", "v1_uid", b"\x00/slurm/uid_1001/job_77/step_batch/task_0")
add("cgpath", "v2_sluid", b"\x00/system.slice/slurmstepd.scope/sABCDEFGHJKLMN/step_extern")
add("cgpath", "proc_cgroup_v1", b"\x01" + b"12:memory:/slurm/uid_1001/job_77/step_0/task_0\n"
    b"11:cpuacct,cpu:/slurm/uid_1001/job_77/step_0/task_0\n1:name=systemd:/user.slice\n")
add("cgpath", "proc_cgroup_v2", b"\x010::/system.slice/slurmstepd.scope/job_5/step_interactive/user/task_special\n")
add("cgpath", "names", b"\x02job_123")

# sacct: selector (0 line, 1 line with SLUID, 2 sacct -V / TRES, 3 ReqMem)
add("sacct", "line", b"\x00" + b"39798795|1646376960|1646444276|della|billing=48,cpu=48,gres/gpu=4,mem=256G,node=2|"
    b"|aturing|math|COMPLETED|2|48|256G|della-gpu|gpu|5760|sys|logic|ordinals")
add("sacct", "line_js1", b"\x00" + b"7|1700000000|Unknown|c|cpu=1,node=1|JS1:Short|u|a|RUNNING|1|1|4000M|q|p|UNLIMITED|x")
add("sacct", "line_cancelled", b"\x00" + b"9|1|2|c|||u|a|CANCELLED by 1234|1|1||q|p|Partition_Limit|n")
add("sacct", "line_sluid", b"\x01" + b"8|1|2|c|cpu=2,node=1,gres/gpu:a100=2||u|a|COMPLETED|1|2|2Gc|q|p|60|n|sABCDEFGHJKLMN")
add("sacct", "version", b"\x02slurm 26.05.1\n")
add("sacct", "tres", b"\x02billing=8,cpu=8,gres/gpu:a100=2,gres/gpu=2,mem=8G,node=1")
add("sacct", "reqmem", b"\x03" + b"16Gn")
add("sacct", "reqmem_cpu", b"\x23" + b"4000Mc")

# Prometheus answers: key byte, body
vec = ('{"status":"success","data":{"resultType":"vector","result":['
       '{"metric":{"instance":"gn1:9306","jobid":"123"},"value":[1700000000,"16"]},'
       '{"metric":{"instance":"gn2","jobid":"123"},"value":[1700000000,"8"]}]}}')
util = ('{"status":"success","data":{"resultType":"vector","result":['
        '{"metric":{"instance":"gn1:9400","minor_number":"3"},"value":[1700000000,"45.6789"]},'
        '{"metric":{"instance":"gn1:9400","minor_number":"0"},"value":[1700000000,"0"]}]}}')
add("promq", "cpus", b"\x03" + vec.encode())
add("promq", "gpu_util", b"\x06" + util.encode())
add("promq", "gpu_mem", b"\x04" + util.encode())
add("promq", "error", b"\x00" + b'{"status":"error","errorType":"bad_data","error":"parse error"}')
add("promq", "empty", b"\x01" + b'{"status":"success","data":{"resultType":"vector","result":[]}}')
add("promq", "nan", b"\x02" + b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a"},"value":[1,"NaN"]}]}}')

# JS1: selector (0 comment, 1 base64, 2 base32, 3 gzip), text
for i, line in enumerate(fixture("jobstats/js1_vectors.txt").splitlines()[:4]):
    comment = line.split(b"\t")[0]
    add("js1", "vector%d" % i, b"\x00" + comment)
    if comment.startswith(b"JS1:"):
        add("js1", "b64_%d" % i, b"\x01" + comment[4:])
add("js1", "short", b"\x00JS1:Short")
add("js1", "none", b"\x00JS1:None")
add("js1", "b32", b"\x00js1b32:d5rumaaaaaaaaaadkvuucaa")
add("js1", "base32", b"\x02mzxw6ytboi")
add("js1", "gzip", b"\x03" + bytes.fromhex("1f8b0800000000000003abcecfcbc84d2d49ccc9e10200a6ccfe950a000000"))

# HTTP: URI line, Accept-Encoding line, listen address line
add("http", "gpus", "/api/v1/gpus\ngzip\n:9400\n")
add("http", "pod", "/api/v1/pods/default/train-0?window=5m\ndeflate, gzip;q=0.5, *;q=0\n127.0.0.1:0\n")
add("http", "pod_ms", "/api/v1/pods/ns/pod?x=1&window=500ms&y\ngzip;q=1.000, identity\n[::1]:9400\n")
add("http", "metrics", "/metrics?a&b&c&d&e&f&g&h&i&j\n*\n[::]:http\n")
add("http", "bad", "/api/v1/pods//x?window=-1h\ngzip;q=0.0001\n[::1\n")

# pod-resources: ListPodResourcesResponse, gRPC-framed and bare


def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def devices(res, ids):
    return ld(1, res.encode()) + b"".join(ld(2, i.encode()) for i in ids)


def container(name, devs):
    return ld(1, name.encode()) + b"".join(ld(2, d) for d in devs) + ld(3, b"\x00\x01\x02")


def pod(name, ns, containers):
    return ld(1, name.encode()) + ld(2, ns.encode()) + b"".join(ld(3, c) for c in containers)


resp = (ld(1, pod("train-0", "default", [container("main", [devices("nvidia.com/gpu", ["GPU-a", "GPU-b"])])]))
        + ld(1, pod("mig-1", "ml", [container("c", [devices("nvidia.com/mig-1g.10gb", ["MIG-x"])]),
                                    container("side", [])]))
        + ld(1, pod("idle", "kube-system", [])))
add("podres", "list", resp)
add("podres", "framed", b"\x00" + struct.pack(">I", len(resp)) + resp)
add("podres", "empty_framed", b"\x00\x00\x00\x00\x00")

# GPU lists
for name, text in [("indices", "0,1,2,3"), ("range", "0-3, 6"), ("mig", "0.1,0.2,3"),
                   ("uuid", "GPU-3a5c1b2e-0000-1111-2222-333344445555,MIG-3a5c1b2e-0000-1111-2222-333344445556"),
                   ("nodev", "NoDevFiles"), ("bad", "1-,x")]:
    add("gpulist", name, text)

# command lines, one argument per line
add("args", "exporter", "--web.listen-address=:0\n--collect.interval=250ms\n--no-collector.cgroup\n"
    "--collector.gpu.nvml-library\n/x/libnvidia-ml.so.1\n-f\n/etc/counters.csv\n--log.level=debug\n")
add("args", "aliases", "-a\n127.0.0.1:0\n--kubernetes\n--path.sysfs=/sys\n--collect.stale-after=5s\n")
add("args", "positional", "-f\n--bool=false\n--no-switch\n-s=x\n--dur=2m\n-i\n-5\n--ms=250\n-c\nyes\n--call=ab\n"
    "--call0\n--old\nx\njob1\n--\n--help\n")
add("args", "help", "--help\n")
add("args", "version", "-v\n")

# jobstats.conf
with open(os.path.join(ROOT, "..", "..", "deploy", "jobstats.conf"), "rb") as f:
    add("jobstats_conf", "deploy", f.read())
add("jobstats_conf", "notes", "prom_url = http://127.0.0.1:9090\ncluster = della\ncluster_label = false\n"
    "gpu_util_red = 15\n"
    "note = gpus > 0 and gpu_util < gpu_util_red and runtime >= min_runtime | bold-red | Used {gpu_util}% of {gpus} GPUs. See https://example.edu/kb\n"
    "note = oom == 1 | bold | Try --mem={suggested_mem_gb}G.\nnote = cpus != 0 | normal | {cpu_eff}{nodes}\n")

for target, files in seeds.items():
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
