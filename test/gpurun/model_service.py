"""A model service written the way the tutorials our users follow write one.

Plain prometheus_client and the standard library's HTTP server (FastAPI is not installed on the
GPU machine): POST /generate runs real inference on the GPU with a small, randomly initialised
transformers Llama model (no weights can be downloaded there), batching the requests that wait;
GET /metrics serves the tutorial's metrics:

  model_requests_total{model,status}       Counter
  model_request_duration_seconds{model}     Histogram
  model_tokens_per_second{model}            Gauge
  gpu_memory_used_mb                        Gauge (torch.cuda.memory_allocated)
  cpu_usage_percent, memory_usage_mb        Gauges (psutil)

Run by test/gpurun/device.sh; not part of llmmon.
"""
import json
import os
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import torch
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MODEL = os.environ.get("MODEL_NAME", "llama-1b-random")
MAX_BATCH = int(os.environ.get("MAX_BATCH", "64"))
MAX_PROMPT = 1024

REQUESTS = Counter("model_requests_total", "Total model requests", ["model", "status"])
LATENCY = Histogram("model_request_duration_seconds", "Model request latency", ["model"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0))
TPS = Gauge("model_tokens_per_second", "Tokens generated per second", ["model"])
GPU_MEM = Gauge("gpu_memory_used_mb", "GPU memory used (MB)")
CPU = Gauge("cpu_usage_percent", "CPU usage percent")
MEM = Gauge("memory_usage_mb", "Memory usage (MB)")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def load_model():
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                      num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=16,
                      max_position_embeddings=2048)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.eval()
    n = sum(p.numel() for p in model.parameters())
    log(f"model: Llama, {n/1e9:.2f}B parameters, random weights, bf16 on {torch.cuda.get_device_name(0)}")
    return model


@torch.inference_mode()
def generate(model, ids, new_tokens):
    """Greedy decoding with the KV cache, one token a step, as a serving loop does."""
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    tok = out.logits[:, -1:].argmax(-1)
    for _ in range(new_tokens - 1):
        out = model(input_ids=tok, past_key_values=past, use_cache=True)
        past = out.past_key_values
        tok = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()


class Job:
    def __init__(self, prompt_tokens, new_tokens):
        self.prompt_tokens = prompt_tokens
        self.new_tokens = new_tokens
        self.done = threading.Event()
        self.error = None


jobs = queue.Queue()


def batcher(model):
    idle_cleaned = True
    while True:
        try:
            first = jobs.get(timeout=0.5)
        except queue.Empty:
            if not idle_cleaned:
                torch.cuda.empty_cache()  # memory goes back to the driver when idle
                idle_cleaned = True
            continue
        idle_cleaned = False
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(jobs.get_nowait())
            except queue.Empty:
                break
        length = max(j.prompt_tokens for j in batch)
        new = max(j.new_tokens for j in batch)
        ids = torch.randint(0, 32000, (len(batch), length), device="cuda")
        t0 = time.perf_counter()
        try:
            generate(model, ids, new)
            TPS.labels(model=MODEL).set(len(batch) * new / (time.perf_counter() - t0))
        except Exception as e:  # out of memory, say: the requests fail, the service goes on
            log("batch failed:", repr(e))
            for j in batch:
                j.error = str(e)
        GPU_MEM.set(torch.cuda.memory_allocated() / 1e6)
        for j in batch:
            j.done.set()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/metrics":
            self.reply(200, generate_latest(), CONTENT_TYPE_LATEST)
        elif self.path == "/health":
            self.reply(200, b'{"status":"ok"}')
        else:
            self.reply(404, b'{"error":"not found"}')

    def do_POST(self):
        if self.path != "/generate":
            self.reply(404, b'{"error":"not found"}')
            return
        start = time.perf_counter()
        status = "success"
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            p, n = int(req.get("prompt_tokens", 128)), int(req.get("max_new_tokens", 64))
            if not 1 <= p <= MAX_PROMPT or not 1 <= n <= 512:
                raise ValueError(f"prompt_tokens must be 1..{MAX_PROMPT} and max_new_tokens 1..512")
            job = Job(p, n)
            jobs.put(job)
            job.done.wait()
            if job.error:
                raise RuntimeError(job.error)
            self.reply(200, json.dumps({"tokens": n}).encode())
        except Exception as e:
            status = "error"
            self.reply(400 if isinstance(e, ValueError) else 500, json.dumps({"error": str(e)}).encode())
        finally:
            REQUESTS.labels(model=MODEL, status=status).inc()
            LATENCY.labels(model=MODEL).observe(time.perf_counter() - start)


def system_gauges():
    proc = psutil.Process()
    while True:
        CPU.set(proc.cpu_percent(interval=None))
        MEM.set(proc.memory_info().rss / 1e6)
        GPU_MEM.set(torch.cuda.memory_allocated() / 1e6)
        time.sleep(2)


def main():
    model = load_model()
    generate(model, torch.randint(0, 32000, (1, 16), device="cuda"), 4)  # warm up
    threading.Thread(target=batcher, args=(model,), daemon=True).start()
    threading.Thread(target=system_gauges, daemon=True).start()
    port = int(os.environ.get("PORT", "8000"))
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    log(f"serving on http://127.0.0.1:{port} (/generate, /metrics)")
    srv.serve_forever()


if __name__ == "__main__":
    main()
