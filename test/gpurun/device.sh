#!/bin/bash
# Runs on the GPU machine lent by the device tool (no Docker, no Go, no network there), from the
# repository root, with .gpurun/llmmon.gz (a static llmmon build) carried. See README.md beside.
# PROFILE=full (about 4 minutes) or smoke (about 1.5). Everything it records lands under $OUT.
set -u
: "${OUT:?OUT must name the folder to record into}"
export PYTHONUNBUFFERED=1 PROFILE=${PROFILE:-full}
# The exporter's own query list (stack/gpuexp.Query); the replay test checks they still match.
QUERY=index,uuid,name,driver_version,pci.bus_id,utilization.gpu,utilization.memory,memory.total,memory.used,memory.free,temperature.gpu,power.draw,power.limit,clocks.current.sm,clocks.current.memory,fan.speed
W=/tmp/gpurun
mkdir -p $W
gunzip -c .gpurun/llmmon.gz >$W/llmmon && chmod +x $W/llmmon
{
	echo "== recorded (UTC)"; date -u +%FT%TZ
	echo "== host"; uname -srm; nproc; grep MemTotal /proc/meminfo
	echo "== nvidia-smi"; nvidia-smi; nvidia-smi -q | sed -n 1,30p
	echo "== software"
	python3 -c 'import sys,torch,transformers; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda); print("transformers", transformers.__version__)'
	python3 -m pip show prometheus_client psutil 2>/dev/null | grep -E '^(Name|Version)'
	$W/llmmon version 2>&1 | head -1
	echo "== DCGM"
	for b in dcgmi nv-hostengine dcgm-exporter; do command -v $b || echo "$b: not found"; done
	ls /usr/lib/x86_64-linux-gnu/libdcgm.so* /usr/local/dcgm 2>&1 | head -3
	python3 -c 'import pydcgm' 2>&1 | tail -1
} >$OUT/logs.txt 2>&1

$W/llmmon gpu-exporter --listen 127.0.0.1:9835 >$W/exporter.log 2>&1 &
EXP=$!
python3 test/gpurun/model_service.py >$W/service.log 2>&1 &
SVC=$!
up() { python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; }
for i in $(seq 180); do up http://127.0.0.1:8000/health && up http://127.0.0.1:9835/metrics && break; sleep 1; done
if ! up http://127.0.0.1:8000/health; then
	for f in exporter service; do echo "== $f.log"; tail -n 40 $W/$f.log; done | tee -a $OUT/logs.txt
	exit 1
fi
echo "== ready after ${i}s" >>$OUT/logs.txt

SECONDS_MAX=$([ "$PROFILE" = smoke ] && echo 40 || echo 200) EXPORTER_PID=$EXP \
	python3 test/gpurun/record.py "$QUERY" >$W/record.log 2>&1 &
REC=$!
python3 test/gpurun/load.py >$W/load.log 2>&1
sleep 6
touch $OUT/STOP
wait $REC
rm -f $OUT/STOP
kill $SVC $EXP 2>/dev/null
for f in exporter service load record; do echo "== $f.log"; tail -n 60 $W/$f.log; done >>$OUT/logs.txt
echo "== steps recorded: $(grep -c '^# step' $OUT/exporter.scrapes)" >>$OUT/logs.txt
tail -n 30 $OUT/logs.txt
