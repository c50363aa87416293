package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/delivery"
	"github.com/vigil-monitoring/vigil/internal/global"
	"github.com/vigil-monitoring/vigil/internal/report"
)

// Scheduled reports (config `reports:`, issue 21): each is a gocron cron
// duty "report <name>" that delivers the report of the period before it
// fires; on start, a firing missed while the agent was down is delivered,
// late. With a global block the replicas agree on who delivers through the
// NATS key-value bucket vigil_reports; without one, reports.json under the
// storage path remembers what was delivered. The schedules are read at
// start: a reload that changes them says so and waits for a restart.

// reportsFile is the claims file of an agent without a global block.
const reportsFile = "reports.json"

// reportTimeout bounds one delivery (render and carry to every recipient).
const reportTimeout = 2 * time.Minute

// startReports schedules cfg's reports and delivers the missed ones in the
// background.
func (a *Agent) startReports(cfg *config.Config) error {
	if len(cfg.Reports) == 0 {
		return nil
	}
	claims, err := a.reportClaims(cfg)
	if err != nil {
		return err
	}
	a.deliverer = &delivery.Deliverer{Claims: claims, Send: a.sendReport, Logger: a.logger}
	schedules := make([]delivery.Schedule, len(cfg.Reports))
	for i := range cfg.Reports {
		s := cfg.Reports[i].Schedule()
		schedules[i] = s
		if err := a.sched.Cron("report "+s.Name, s.Cron, s.Location, func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, reportTimeout)
			defer cancel()
			if err := a.deliverer.Fire(ctx, s, a.now(), false); err != nil {
				a.logger.Error("scheduled report not delivered; it is sent late at the next start", "report", s.Name, "err", err)
			}
		}); err != nil {
			return fmt.Errorf("%s: reports[%d]: %w", cfg.File, i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	a.catchUpCancel, a.catchUpDone = cancel, make(chan struct{})
	go func() {
		defer close(a.catchUpDone)
		defer cancel()
		if err := a.deliverer.CatchUp(ctx, schedules, a.now()); err != nil {
			a.logger.Error("missed scheduled reports not delivered", "err", err)
		}
	}()
	return nil
}

// stopReports stops a catch-up still going and closes the claims.
func (a *Agent) stopReports() {
	if a.deliverer == nil {
		return
	}
	a.catchUpCancel()
	<-a.catchUpDone
	if l, ok := a.deliverer.Claims.(*lazyKVClaims); ok {
		l.close()
	}
}

// sameReports reports whether two configs schedule the same reports.
func sameReports(a, b []config.Report) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if fmt.Sprint(a[i].Schedule()) != fmt.Sprint(b[i].Schedule()) {
			return false
		}
	}
	return true
}

// reportClaims are the KV bucket's claims with a global block, else the
// file's.
func (a *Agent) reportClaims(cfg *config.Config) (delivery.Claims, error) {
	if cfg.Global == nil {
		file := ""
		if a.opts.StoragePath != "" {
			file = filepath.Join(a.opts.StoragePath, reportsFile)
		}
		return delivery.OpenFileClaims(file, a.now)
	}
	gc, err := publisherConfig(cfg.Global)
	if err != nil {
		return nil, fmt.Errorf("%s: global: %w", cfg.File, err)
	}
	return &lazyKVClaims{cfg: gc, by: cfg.Global.AgentID, clock: a.now}, nil
}

// sendReport renders job's report and carries it to each recipient: an
// http(s) URL gets it POSTed, a mail address by the agent's mailer.
func (a *Agent) sendReport(ctx context.Context, job delivery.Job) error {
	body, contentType, err := a.renderReport(job)
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("Vigil SLA report %s: %s", job.Schedule.Name, job.Period.Key)
	if job.Late {
		subject += fmt.Sprintf(" (late: due %s)", job.ScheduledAt.In(job.Period.From.Location()).Format("2006-01-02 15:04 MST"))
	}
	var errs []error
	for _, to := range job.Schedule.To {
		if strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://") {
			errs = append(errs, postReport(ctx, to, job, subject, body, contentType))
			continue
		}
		if a.mailReport == nil {
			errs = append(errs, fmt.Errorf("mail to %s: no mailer: set notify.smtp", redactAddress(to)))
			continue
		}
		errs = append(errs, a.mailReport(ctx, to, subject, body, contentType, job))
	}
	return errors.Join(errs...)
}

// renderReport is the report of job's period in the schedule's format,
// with the contracts of the config in force, and its content type.
func (a *Agent) renderReport(job delivery.Job) ([]byte, string, error) {
	format, ok := report.Format(job.Schedule.Format)
	if !ok {
		return nil, "", fmt.Errorf("report format %q: not one of %v", job.Schedule.Format, report.Formats)
	}
	opts := report.Options{Contracts: a.Config().Contracts()}
	doc := report.Build(a.engine.Report(job.Period.From, job.Period.To), a.engine, opts)
	var b bytes.Buffer
	if err := report.Write(&b, format, doc); err != nil {
		return nil, "", err
	}
	return b.Bytes(), report.ContentType(format), nil
}

// postReport POSTs the report to a webhook URL: the body is the report,
// headers say which report, period and whether it is late.
func postReport(ctx context.Context, url string, job delivery.Job, subject string, body []byte, contentType string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Vigil-Report", job.Schedule.Name)
	req.Header.Set("X-Vigil-Period", job.Period.Key)
	req.Header.Set("X-Vigil-Subject", subject)
	if job.Late {
		req.Header.Set("X-Vigil-Late", "true")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// redactAddress keeps a mail address out of logs: its domain only.
func redactAddress(addr string) string {
	if _, domain, ok := strings.Cut(addr, "@"); ok {
		return "…@" + domain
	}
	return "…"
}

// lazyKVClaims are KV claims over a NATS connection made on first use and
// made again after a failure: NATS being away at start or later only
// delays deliveries (retried at the next firing or start).
type lazyKVClaims struct {
	cfg   global.Config
	by    string
	clock func() time.Time

	mu     sync.Mutex
	nc     *nats.Conn
	claims *delivery.KVClaims
}

func (l *lazyKVClaims) get(ctx context.Context) (*delivery.KVClaims, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claims != nil && l.nc.IsConnected() {
		return l.claims, nil
	}
	if l.nc != nil {
		l.nc.Close()
	}
	opts := append(global.AuthOptions(l.cfg.CredentialsFile, l.cfg.Username, l.cfg.Password, l.cfg.Token, l.cfg.TLS),
		nats.Name("vigil reports "+l.by))
	nc, err := nats.Connect(l.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("report claims: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		l.claims, err = delivery.NewKVClaims(ctx, js, delivery.DefaultBucket, l.by, l.cfg.Replicas, l.clock)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	l.nc = nc
	return l.claims, nil
}

func (l *lazyKVClaims) Claim(ctx context.Context, key string) (bool, error) {
	c, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return c.Claim(ctx, key)
}

func (l *lazyKVClaims) Done(ctx context.Context, key string) error {
	c, err := l.get(ctx)
	if err != nil {
		return err
	}
	return c.Done(ctx, key)
}

func (l *lazyKVClaims) Release(ctx context.Context, key string) error {
	c, err := l.get(ctx)
	if err != nil {
		return err
	}
	return c.Release(ctx, key)
}

func (l *lazyKVClaims) Delivered(ctx context.Context, key string) (bool, error) {
	c, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return c.Delivered(ctx, key)
}

// close ends the connection, at shutdown.
func (l *lazyKVClaims) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nc != nil {
		l.nc.Close()
	}
}
