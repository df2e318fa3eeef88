"""POST outcome events to a running custscore server and report events stored per second.

usage: outcomes_ingest.py HOST:PORT CAMPAIGN [EVENTS] [BATCH] [CONNECTIONS]

Bodies are built before the clock starts (a different customer, time and value per
event, so every event is new); CONNECTIONS threads each keep one connection open and
post their share of the batches. Prints one JSON line. Python standard library only.
"""

import http.client
import json
import sys
import threading
import time


def main():
    addr, campaign = sys.argv[1], sys.argv[2]
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    connections = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    host, port = addr.rsplit(":", 1)
    bodies = []
    for start in range(0, events, batch):
        items = [{
            "campaign": campaign,
            "customer_id": str(i % 7043),
            "type": ("purchased", "responded", "churned")[i % 3],
            "time": f"2024-{1 + (i // 7043) % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "value": round((i * 7919) % 10_000 / 100.0, 2),
        } for i in range(start, min(start + batch, events))]
        bodies.append(json.dumps(items).encode())
    stored = [0] * connections
    failures = [0] * connections

    def post(worker):
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for body in bodies[worker::connections]:
            conn.request("POST", "/v1/outcomes", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                failures[worker] += 1
                continue
            stored[worker] += json.loads(answer)["stored"]
        conn.close()

    threads = [threading.Thread(target=post, args=(w,)) for w in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "events": events, "batch": batch, "connections": connections,
        "stored": sum(stored), "failed_requests": sum(failures),
        "seconds": round(seconds, 3), "events_per_s": round(sum(stored) / seconds),
    }))


if __name__ == "__main__":
    main()
