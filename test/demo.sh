#!/usr/bin/env bash
# Offline demo: a simulated vLLM and SGLang server (test/modelsim) plus the whole llmmon stack,
# all from locally built images (make test-images). Usage: test/demo.sh up|down [--volumes]|clean
# The demo's spec is written once, to $LLMMON_DEMO_DIR/llmmon.yaml (~/.llmmon/demo by default), and
# kept: what add-target writes into it stays for the next `make demo`. `clean` removes the stack,
# its volumes and that folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LLMMON_DEMO_DIR:-$HOME/.llmmon/demo}
mkdir -p "$dir"
spec="$dir/llmmon.yaml"
[ -f "$spec" ] || cat >"$spec" <<YAML
name: demo
data_dir: $dir/data
targets:
  - {name: qwen-chat, engine: vllm, url: "127.0.0.1:18000"}
  - {name: embed, engine: sglang, url: "127.0.0.1:18001"}
notify:
  receivers:
    # Stand-ins for a signed DingTalk robot and a WeCom robot (test/robots), on this host.
    - name: demo-dingtalk
      dingtalk: {url: "http://127.0.0.1:18090/robot/send?access_token=demo-token", secret: SECdemo-secret}
    - name: demo-wecom
      wecom: {url: "http://127.0.0.1:18090/cgi-bin/webhook/send?key=demo-key"}
images:
  prometheus: llmmon-test/prometheus:3.15.0
  alertmanager: llmmon-test/alertmanager:0.31.1
  node_exporter: llmmon-test/node-exporter:1.12.1
  grafana: llmmon-test/grafana-standin:dev
YAML
case "${1:-up}" in
  up)
    docker rm -f llmmon-demo-modelsim >/dev/null 2>&1 || true
    docker run -d --name llmmon-demo-modelsim --network host --restart unless-stopped \
      llmmon-test/modelsim:dev --serve vllm=127.0.0.1:18000 --serve sglang=127.0.0.1:18001 --control 127.0.0.1:18099 >/dev/null
    echo "simulated model servers: vLLM on 127.0.0.1:18000, SGLang on 127.0.0.1:18001 (fault modes: curl -X POST '127.0.0.1:18099/mode?mode=error-burst')"
    docker rm -f llmmon-demo-robots >/dev/null 2>&1 || true
    docker run -d --name llmmon-demo-robots --network host --restart unless-stopped \
      llmmon-test/robots:dev -listen 127.0.0.1:18090 -dingtalk demo-token:SECdemo-secret -wecom demo-key >/dev/null
    echo "DingTalk and WeCom robot stand-ins on 127.0.0.1:18090 (messages: docker logs llmmon-demo-robots)"
    "$root/bin/llmmon" up -f "$spec"
    "$root/bin/llmmon" alert test -f "$spec" || true
    "$root/bin/llmmon" status -f "$spec" || true
    echo
    echo "The demo's spec is $spec; give it to every command, e.g."
    echo "  bin/llmmon status -f $spec"
    echo "  bin/llmmon add-target -f $spec mymodel 127.0.0.1:8000"
    echo "Stop it with make demo-down (keeps its data) or make demo-clean (removes its data too)."
    ;;
  down)
    "$root/bin/llmmon" down -f "$spec" "${@:2}"
    docker rm -f llmmon-demo-modelsim llmmon-demo-robots >/dev/null 2>&1 || true
    ;;
  clean)
    "$root/bin/llmmon" down -f "$spec" --volumes
    docker rm -f llmmon-demo-modelsim llmmon-demo-robots >/dev/null 2>&1 || true
    rm -rf "$dir"
    echo "removed the demo's containers, volumes and $dir"
    ;;
  *) echo "usage: $0 up|down [--volumes]|clean" >&2; exit 2 ;;
esac
