package globalrole

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ReplayStats say what a replay read.
type ReplayStats struct {
	Ingested uint64
	Rejected map[string]uint64 // by reason, only those that happened
	LastSeq  uint64            // the stream's last sequence read
}

// Replay reads src's stream once, from its start to the last record it
// held when the replay began, into view (`vigil report --scope=global`).
// Rejected records are counted and logged as the role does.
func Replay(ctx context.Context, src Source, view View, log *slog.Logger) (ReplayStats, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := newState(view, log)
	c := &consumer{src: src, st: st, log: log}
	nc, err := nats.Connect(src.URL, append(src.options(log), nats.NoReconnect())...)
	if err != nil {
		return ReplayStats{}, fmt.Errorf("connect to %s: %w", redactURL(src.URL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return ReplayStats{}, fmt.Errorf("jetstream: %w", err)
	}
	_, cons, err := c.open(ctx, js)
	if err != nil {
		return ReplayStats{}, err
	}
	if !c.caughtUp.Load() {
		it, err := cons.Messages()
		if err != nil {
			return ReplayStats{}, fmt.Errorf("consume stream %s: %w", src.Stream, err)
		}
		defer it.Stop()
		for !c.caughtUp.Load() {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				return ReplayStats{}, fmt.Errorf("stream %s at seq %d: %w", src.Stream, c.lastSeq.Load(), err)
			}
			c.handle(msg)
		}
	}
	return st.stats(c.lastSeq.Load()), nil
}
