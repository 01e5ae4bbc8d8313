package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Modes a simulated engine can be in. See the package documentation for what each one does.
const (
	modeHealthy        = "healthy"
	modeDown           = "down"
	modeErrorBurst     = "error-burst"
	modeLatencySpike   = "latency-spike"
	modeQueueGrowth    = "queue-growth"
	modeKVFull         = "kv-full"
	modeGPUMemFull     = "gpu-mem-full"
	modeThroughputDrop = "throughput-drop"
	modeGPUXid         = "gpu-xid"
	modeGPUHot         = "gpu-hot"
)

var allModes = []string{modeHealthy, modeDown, modeErrorBurst, modeLatencySpike, modeQueueGrowth,
	modeKVFull, modeGPUMemFull, modeThroughputDrop, modeGPUXid, modeGPUHot}

func validMode(m string) error {
	for _, v := range allModes {
		if v == m {
			return nil
		}
	}
	return fmt.Errorf("unknown mode %q (valid: %s)", m, strings.Join(allModes, ", "))
}

const (
	maxBacklog      = 500  // queue-growth stops growing the waiting queue here
	errorBurstShare = 0.30 // share of requests that fail in error-burst
	abortShare      = 0.01 // client aborts, in every mode
)

// request is one simulated inference request. Times are seconds of simulated time.
type request struct {
	arrival   float64
	prompt    int // prompt tokens
	cached    int // prompt tokens served from the prefix cache
	maxTokens int // the max_tokens request parameter
	out       int // tokens this request will generate
	queue     float64
	ttft      float64 // prefill time, from leaving the queue to the first token
	itl       float64 // mean inter-token latency
	e2e       float64 // arrival to finish
	outcome   string  // stop, length, abort or error
	structOut bool    // structured output (json schema) request

	admitted  bool
	generated int
	firstDone bool
}

func (r *request) firstAt() float64 { return r.arrival + r.queue + r.ttft }
func (r *request) endAt() float64   { return r.arrival + r.e2e }

// ok reports whether the request finished normally (stop or length).
func (r *request) ok() bool { return r.outcome == "stop" || r.outcome == "length" }

// decodeTime is the time from the first token to the end.
func (r *request) decodeTime() float64 { return math.Max(0, r.e2e-r.queue-r.ttft) }

// tickStats is what happened during one tick; each engine turns it into its metrics.
type tickStats struct {
	dt        float64
	mode      string
	rng       *rand.Rand
	arrived   []*request
	admitted  []*request // left the queue, prefill done during this tick
	first     []*request // produced their first token during this tick
	finished  []*request
	genTokens int       // tokens generated during the tick, all requests
	itl       []float64 // one sample per generated token after the first
	decodeSec float64   // time spent decoding during the tick, summed over requests
	steps     int       // engine iterations during the tick

	running, waiting, prefilling int
	kv                           float64 // KV-cache usage, 0-1
	preempted                    int
	load                         float64 // 0-1, how busy the accelerator is
}

// simState is the traffic model of one simulated engine.
type simState struct {
	rng       *rand.Rand
	rps       float64
	dt        float64
	now       float64
	inflight  []*request
	backlog   float64 // extra waiting requests (queue-growth)
	acc       float64 // arrival accumulator for very low rates
	burstLeft int
	burstMul  float64
	kv        float64
}

func newSimState(seed uint64, salt string, rps, dt float64) *simState {
	h := uint64(14695981039346656037)
	for _, c := range []byte(salt) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return &simState{rng: rand.New(rand.NewPCG(seed, h)), rps: rps, dt: dt, kv: 0.3}
}

func (s *simState) uniform(a, b float64) float64 { return a + (b-a)*s.rng.Float64() }

func (s *simState) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*s.rng.NormFloat64())
}

// poisson draws from a Poisson distribution (Knuth; lambda is small here).
func (s *simState) poisson(lambda float64) int {
	if lambda > 30 {
		return int(math.Max(0, math.Round(lambda+math.Sqrt(lambda)*s.rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func clampInt(v, lo, hi int) int      { return max(lo, min(hi, v)) }
func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func (s *simState) newRequest(mode string) *request {
	r := &request{arrival: s.now + s.uniform(0, s.dt)}
	r.prompt = clampInt(int(s.lognormal(350, 0.9)), 8, 6000)
	if s.rng.Float64() < 0.5 {
		r.cached = int(float64(r.prompt) * s.uniform(0.1, 0.7))
	}
	r.maxTokens = []int{256, 512, 512, 1024}[s.rng.IntN(4)]
	want := max(4, int(s.lognormal(200, 0.8)))
	r.out, r.outcome = want, "stop"
	if want >= r.maxTokens {
		r.out, r.outcome = r.maxTokens, "length"
	}
	r.structOut = s.rng.Float64() < 0.05
	r.queue = s.uniform(0, 0.03) + s.backlog*0.02
	r.ttft = 0.05 + math.Min(0.25, float64(r.prompt-r.cached)/8000+s.uniform(0, 0.08))
	r.itl = s.uniform(0.015, 0.040)
	if mode == modeLatencySpike {
		r.ttft = s.uniform(0.2, 0.5) * s.uniform(10, 20)
		r.itl *= s.uniform(10, 20)
	}
	switch p := s.rng.Float64(); {
	case mode == modeErrorBurst && p < errorBurstShare:
		r.outcome = "error"
		r.out = s.rng.IntN(r.out/2 + 1) // often fails before or soon after the first token
		r.ttft *= s.uniform(0.3, 1)
	case p > 1-abortShare:
		r.outcome = "abort"
		r.out = 1 + s.rng.IntN(r.out)
	}
	r.e2e = r.queue + r.ttft
	if r.out > 1 {
		r.e2e += r.itl * float64(r.out-1)
	}
	return r
}

// step advances the model by one tick.
func (s *simState) step(mode string) *tickStats {
	ts := &tickStats{dt: s.dt, mode: mode, rng: s.rng}
	// Arrivals: Poisson around rps with +-30% jitter and occasional bursts.
	if s.burstLeft > 0 {
		s.burstLeft--
	} else if s.rng.Float64() < 0.015 {
		s.burstLeft, s.burstMul = 8+s.rng.IntN(12), s.uniform(2, 3)
	}
	lambda := s.rps * s.dt * s.uniform(0.7, 1.3)
	if s.burstLeft > 0 {
		lambda *= s.burstMul
	}
	if mode == modeThroughputDrop {
		lambda *= 0.02
	}
	n := 0
	if lambda >= 0.2 {
		n = s.poisson(lambda)
	} else { // low rates: regular arrivals, so the rate never reads zero for long
		s.acc += lambda
		n = int(s.acc)
		s.acc -= float64(n)
	}
	switch {
	case mode == modeQueueGrowth:
		s.backlog = math.Min(maxBacklog, s.backlog+float64(1+s.rng.IntN(3)))
	case s.backlog > 0:
		s.backlog = math.Max(0, s.backlog-25)
	}
	for range n {
		r := s.newRequest(mode)
		ts.arrived = append(ts.arrived, r)
		s.inflight = append(s.inflight, r)
	}

	end := s.now + s.dt
	kept := s.inflight[:0]
	for _, r := range s.inflight {
		if !r.admitted && r.arrival+r.queue <= end {
			r.admitted = true
			ts.admitted = append(ts.admitted, r)
		}
		if r.out > 0 && !r.firstDone && r.firstAt() <= end {
			r.firstDone = true
			r.generated = 1
			ts.first = append(ts.first, r)
			ts.genTokens++
		}
		if r.firstDone && r.generated < r.out {
			upto := min(r.out, 1+int((math.Min(end, r.endAt())-r.firstAt())/r.itl))
			for ; r.generated < upto; r.generated++ {
				ts.genTokens++
				ts.itl = append(ts.itl, r.itl*s.uniform(0.85, 1.15))
				ts.decodeSec += r.itl
			}
		}
		if r.endAt() <= end {
			ts.finished = append(ts.finished, r)
			continue
		}
		kept = append(kept, r)
		switch {
		case !r.admitted:
			ts.waiting++
		case !r.firstDone:
			ts.prefilling++
			ts.running++
		default:
			ts.running++
		}
	}
	s.inflight = kept
	s.now = end
	ts.waiting = min(maxBacklog, ts.waiting+int(s.backlog))
	// Keep finishing order deterministic (by arrival).
	sort.SliceStable(ts.finished, func(i, j int) bool { return ts.finished[i].arrival < ts.finished[j].arrival })

	ts.steps = max(1, int(s.dt/0.025))
	ts.load = clamp(float64(ts.running)/60, 0, 1)
	if mode == modeKVFull {
		s.kv = s.uniform(0.97, 0.995)
		ts.preempted = s.rng.IntN(3)
	} else {
		target := 0.2 + 0.4*math.Min(1, float64(ts.running)/80)
		s.kv = clamp(0.7*s.kv+0.3*target+s.uniform(-0.01, 0.01), 0.2, 0.6)
	}
	ts.kv = s.kv
	return ts
}
