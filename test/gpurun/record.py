"""Scrapes the GPU exporter and the model service every 5 s, with nvidia-smi's own readings beside.

Each step: nvidia-smi (before), GET the exporter's /metrics (timed), nvidia-smi (after), GET the
model service's /metrics, the exporter's resident memory from /proc. Writes, under OUT:

  exporter.scrapes     "# step N unix_ms T scrape_ms D" then the exporter's /metrics, per step
  model.scrapes        "# step N unix_ms T" then the model service's /metrics, per step
  nvidia-smi.readings  "# step N when before|after unix_ms T" then nvidia-smi's CSV (header and rows)
  exporter-proc.csv    step, unix_ms, scrape_ms, rss_kib, hwm_kib of the exporter process

Runs until the file STOP exists or SECONDS have passed.
"""
import os
import subprocess
import sys
import time
import urllib.request

OUT = os.environ["OUT"]
EXPORTER = os.environ.get("EXPORTER", "http://127.0.0.1:9835/metrics")
MODEL = os.environ.get("MODEL", "http://127.0.0.1:8000/metrics")
PID = os.environ["EXPORTER_PID"]
QUERY = sys.argv[1]  # the exporter's own --query-gpu list, from `llmmon gpu-exporter`'s Query
SECONDS = float(os.environ.get("SECONDS_MAX", "400"))


def smi():
    return subprocess.run(["nvidia-smi", "--query-gpu=" + QUERY, "--format=csv"],
                          capture_output=True, text=True, timeout=10).stdout


def proc():
    kv = {}
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            kv[k] = v.split()[0] if v.split() else ""
    return kv.get("VmRSS", ""), kv.get("VmHWM", "")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def main():
    files = {n: open(os.path.join(OUT, n), "a") for n in
             ("exporter.scrapes", "model.scrapes", "nvidia-smi.readings", "exporter-proc.csv")}
    files["exporter-proc.csv"].write("step,unix_ms,scrape_ms,rss_kib,hwm_kib\n")
    start = time.time()
    step = 0
    while time.time() - start < SECONDS and not os.path.exists(os.path.join(OUT, "STOP")):
        tick = start + 5 * step
        time.sleep(max(0, tick - time.time()))
        now = lambda: int(time.time() * 1000)
        files["nvidia-smi.readings"].write(f"# step {step} when before unix_ms {now()}\n{smi()}")
        t0 = time.perf_counter()
        ts = now()
        try:
            body = get(EXPORTER)
        except OSError as e:
            body = f"# scrape failed: {e}\n"
        ms = (time.perf_counter() - t0) * 1000
        files["exporter.scrapes"].write(f"# step {step} unix_ms {ts} scrape_ms {ms:.1f}\n{body}")
        files["nvidia-smi.readings"].write(f"# step {step} when after unix_ms {now()}\n{smi()}")
        ts = now()
        try:
            body = get(MODEL)
        except OSError as e:
            body = f"# scrape failed: {e}\n"
        files["model.scrapes"].write(f"# step {step} unix_ms {ts}\n{body}")
        rss, hwm = proc()
        files["exporter-proc.csv"].write(f"{step},{ts},{ms:.1f},{rss},{hwm}\n")
        for f in files.values():
            f.flush()
        step += 1


if __name__ == "__main__":
    main()
