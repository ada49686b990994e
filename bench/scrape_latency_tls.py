"""scrape_latency_tls.py PORT N CAFILE USER PASSWORD - like scrape_latency.py over HTTPS with basic
auth: N sequential GET /metrics on one keep-alive TLS connection; prints "p50 p99 mean" in ms."""
import base64
import http.client
import ssl
import statistics
import sys
import time

port, n, ca, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx)
auth = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}
lat = []
for _ in range(n + 10):
    t0 = time.perf_counter()
    conn.request("GET", "/metrics", headers=auth)
    r = conn.getresponse()
    body = r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    assert r.status == 200 and body, r.status
lat = sorted(lat[10:])
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{p(0.50):.3f} {p(0.99):.3f} {statistics.mean(lat):.3f}")
