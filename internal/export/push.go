package export

import (
	"context"
	"fmt"
	"io"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// StartPush ships the exposition to url (VictoriaMetrics' or vmagent's
// /api/v1/import/prometheus) every interval until ctx is done, using
// VictoriaMetrics/metrics InitPushExt. Series already carry region and agent
// labels; extraLabels (`name="value",...`) are added on top, e.g. an instance.
// A push target that is down costs nothing but a logged error per interval: each
// push renders afresh and nothing queues.
func StartPush(ctx context.Context, url string, interval time.Duration, extraLabels string, e *expo.Exposition) error {
	write := func(w io.Writer) {
		// A partial exposition (a family failed to gather) is still pushed.
		_ = e.Write(w, false)
	}
	opts := &vm.PushOptions{ExtraLabels: extraLabels}
	if err := vm.InitPushExtWithOptions(ctx, url, interval, write, opts); err != nil {
		return fmt.Errorf("push to %s: %w", url, err)
	}
	return nil
}
