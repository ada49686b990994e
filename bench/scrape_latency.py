"""scrape_latency.py PORT N - N sequential GET /metrics over one keep-alive connection, as a
Prometheus server scrapes; prints "p50 p99 mean" in milliseconds (full body read each time)."""
import http.client
import statistics
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
lat = []
for _ in range(n + 10):
    t0 = time.perf_counter()
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    assert r.status == 200 and body
lat = sorted(lat[10:])  # the first few warm the connection
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{p(0.50):.3f} {p(0.99):.3f} {statistics.mean(lat):.3f}")
