package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/atomicfile"
)

// ClaimTTL is how long a claim holds without being marked delivered: a
// replica that died while sending leaves the period to the next one that
// tries after that.
const ClaimTTL = 15 * time.Minute

// claim is a key's value: who holds it, since when, and whether delivered.
type claim struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Delivered bool      `json:"delivered"`
}

// FileClaims keeps claims in a JSON file: for a lone agent, which has no
// replica to agree with but must still remember what it delivered across
// restarts.
type FileClaims struct {
	file  string
	clock func() time.Time

	mu     sync.Mutex
	claims map[string]claim
}

// OpenFileClaims reads the claims at file (missing: none; "": kept in
// memory only).
func OpenFileClaims(file string, clock func() time.Time) (*FileClaims, error) {
	c := &FileClaims{file: file, clock: clock, claims: map[string]claim{}}
	if file == "" {
		return c, nil
	}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("report deliveries: %w", err)
	}
	if err := json.Unmarshal(data, &c.claims); err != nil {
		return nil, fmt.Errorf("report deliveries %s: %w", file, err)
	}
	return c, nil
}

// Claim implements Claims.
func (c *FileClaims) Claim(_ context.Context, key string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	if cl, ok := c.claims[key]; ok && (cl.Delivered || now.Sub(cl.At) < ClaimTTL) {
		return false, nil
	}
	c.claims[key] = claim{By: "local", At: now}
	return true, c.save()
}

// Done implements Claims.
func (c *FileClaims) Done(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims[key] = claim{By: "local", At: c.clock(), Delivered: true}
	return c.save()
}

// Release implements Claims.
func (c *FileClaims) Release(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.claims, key)
	return c.save()
}

// Delivered implements Claims.
func (c *FileClaims) Delivered(_ context.Context, key string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.claims[key].Delivered, nil
}

// save writes the claims atomically, dropping delivered ones older than
// the catch-up horizon (nothing will ask for them again); c.mu is held. A
// book with no file keeps them in memory.
func (c *FileClaims) save() error {
	cutoff := c.clock().Add(-2 * CatchUpHorizon)
	for k, cl := range c.claims {
		if cl.At.Before(cutoff) {
			delete(c.claims, k)
		}
	}
	if c.file == "" {
		return nil
	}
	data, err := json.MarshalIndent(c.claims, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(c.file, data); err != nil {
		return fmt.Errorf("report deliveries: %w", err)
	}
	return nil
}

// KVClaims keeps claims in a NATS JetStream key-value bucket shared by the
// replicas of a region (or every agent): a claim is a create, which the
// server grants to exactly one; a stale claim is taken over with a
// compare-and-set on its revision.
type KVClaims struct {
	kv    jetstream.KeyValue
	by    string
	clock func() time.Time
}

// DefaultBucket is the key-value bucket of report claims.
const DefaultBucket = "vigil_reports"

// NewKVClaims opens (creating when missing) bucket for claims made as by
// (the agent id). Entries expire after twice the catch-up horizon.
func NewKVClaims(ctx context.Context, js jetstream.JetStream, bucket, by string, replicas int, clock func() time.Time) (*KVClaims, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: 2 * CatchUpHorizon,
		Replicas: max(replicas, 1), Description: "Vigil: who delivered which scheduled report"})
	if err != nil {
		return nil, fmt.Errorf("report claims: key-value bucket %s: %w", bucket, err)
	}
	return &KVClaims{kv: kv, by: by, clock: clock}, nil
}

func (c *KVClaims) value(delivered bool) []byte {
	data, _ := json.Marshal(claim{By: c.by, At: c.clock().UTC(), Delivered: delivered})
	return data
}

// Claim implements Claims.
func (c *KVClaims) Claim(ctx context.Context, key string) (bool, error) {
	_, err := c.kv.Create(ctx, key, c.value(false))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, err
	}
	entry, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) { // released meanwhile: try once more
		_, err = c.kv.Create(ctx, key, c.value(false))
		return err == nil, ignoreExists(err)
	}
	if err != nil {
		return false, err
	}
	var cl claim
	if json.Unmarshal(entry.Value(), &cl) != nil || cl.Delivered || c.clock().Sub(cl.At) < ClaimTTL {
		return false, nil
	}
	_, err = c.kv.Update(ctx, key, c.value(false), entry.Revision()) // a stale claim: take it over
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return false, nil // another replica took it first
		}
		return false, err
	}
	return true, nil
}

func ignoreExists(err error) error {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

// Done implements Claims.
func (c *KVClaims) Done(ctx context.Context, key string) error {
	_, err := c.kv.Put(ctx, key, c.value(true))
	return err
}

// Release implements Claims.
func (c *KVClaims) Release(ctx context.Context, key string) error {
	err := c.kv.Delete(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// Delivered implements Claims.
func (c *KVClaims) Delivered(ctx context.Context, key string) (bool, error) {
	entry, err := c.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return false, nil
	case err != nil:
		return false, err
	}
	var cl claim
	if err := json.Unmarshal(entry.Value(), &cl); err != nil {
		return false, fmt.Errorf("report claim %s: %w", key, err)
	}
	return cl.Delivered, nil
}
