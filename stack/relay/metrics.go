package relay

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg       *prometheus.Registry
	received  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	messages  *prometheus.CounterVec
	failed    *prometheus.CounterVec
	retried   *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	lastOK    *prometheus.GaugeVec
	reports   *prometheus.CounterVec
	// unauthorized counts requests refused for a missing or wrong token.
	unauthorized prometheus.Counter
}

func newMetrics(r *Relay) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_alerts_received_total",
			Help: "Alerts received from Alertmanager."}, []string{"receiver"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_alerts_delivered_total",
			Help: "Alerts delivered to the robot."}, []string{"receiver"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_messages_delivered_total",
			Help: "Messages the robot accepted."}, []string{"receiver"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_messages_failed_total",
			Help: "Messages the robot did not accept, by reason (platform errcode, HTTP status or network)."}, []string{"receiver", "reason"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_retries_total",
			Help: "Failed deliveries that will be retried."}, []string{"receiver"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_relay_alerts_dropped_total",
			Help: "Alerts given up on, by reason."}, []string{"receiver", "reason"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llmmon_relay_last_success_timestamp_seconds",
			Help: "When the robot last accepted a message."}, []string{"receiver"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_report_deliveries_total",
			Help: "Service reports delivered (or not), by receiver and result (sent, failed)."}, []string{"receiver", "result"}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{Name: "llmmon_relay_requests_unauthorized_total",
			Help: "Requests refused because they did not carry the relay's token."}),
	}
	m.reg.MustRegister(m.received, m.delivered, m.messages, m.failed, m.retried, m.dropped, m.lastOK, m.reports, m.unauthorized, pendingCollector{r},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// register makes a receiver's series exist at zero, so that rate() and absent() work from
// the start.
func (m *metrics) register(name string) {
	m.received.WithLabelValues(name)
	m.delivered.WithLabelValues(name)
	m.messages.WithLabelValues(name)
	m.retried.WithLabelValues(name)
}

var pendingDesc = prometheus.NewDesc("llmmon_relay_pending_alerts", "Alerts waiting to be delivered.", []string{"receiver"}, nil)

// pendingCollector reports each receiver's queue when scraped.
type pendingCollector struct{ r *Relay }

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc }

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.Status() {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.Pending), s.Name)
	}
}
