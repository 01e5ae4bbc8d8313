"""Drives test/gpurun/model_service.py with a load that rises, holds and falls.

Each of up to 64 clients sends a request, waits for the answer, thinks for 0.5 to 1.5 s and
sends the next; the number of clients follows the profile. About 2 % of requests ask for a prompt
longer than the service accepts, so the error panels see real 400s. Prints one line a phase.
"""
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

URL = os.environ.get("URL", "http://127.0.0.1:8000/generate")
PROFILES = {
    # (clients, seconds)
    "full": [(0, 20), (1, 20), (4, 20), (16, 20), (64, 45), (16, 15), (2, 15), (0, 25)],
    "smoke": [(0, 5), (4, 10), (64, 10), (0, 5)],
}

active = 0
stats = {"ok": 0, "error": 0}
lock = threading.Lock()


def client(i):
    rnd = random.Random(i)
    while True:
        if i >= active:
            time.sleep(0.1)
            continue
        bad = rnd.random() < 0.02
        body = json.dumps({"prompt_tokens": 5000 if bad else rnd.randint(64, 512),
                           "max_new_tokens": rnd.randint(32, 128)}).encode()
        req = urllib.request.Request(URL, body, {"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=60).read()
            k = "ok"
        except (urllib.error.URLError, OSError):
            k = "error"
        with lock:
            stats[k] += 1
        time.sleep(rnd.uniform(0.5, 1.5))


def main():
    global active
    profile = PROFILES[os.environ.get("PROFILE", "full")]
    for i in range(64):
        threading.Thread(target=client, args=(i,), daemon=True).start()
    start = time.time()
    for clients, secs in profile:
        active = clients
        time.sleep(secs)
        with lock:
            print(f"{time.time()-start:6.0f}s clients={clients:2d} ok={stats['ok']} error={stats['error']}", flush=True)
    active = 0


if __name__ == "__main__":
    main()
