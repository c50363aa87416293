package notify

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// FileName is the store's file under the agent's storage path.
const FileName = "comms.db"

// The store's buckets.
var (
	bucketUpdates     = []byte("updates")     // incident id, 0, big-endian seq -> Update
	bucketManual      = []byte("manual")      // incident id -> ManualIncident (without Updates)
	bucketSubscribers = []byte("subscribers") // subscriber id -> Subscriber
	bucketEmails      = []byte("emails")      // sha256 of the lower-cased address -> subscriber id
	bucketTokens      = []byte("tokens")      // sha256 of a token -> tokenRecord
	bucketQueue       = []byte("queue")       // big-endian seq -> Delivery
	bucketEvents      = []byte("events")      // big-endian seq -> publishedEvent not yet turned into deliveries
	bucketMeta        = []byte("meta")        // "seq" -> the last seq handed out
	allBuckets        = [][]byte{bucketUpdates, bucketManual, bucketSubscribers, bucketEmails, bucketTokens, bucketQueue,
		bucketEvents, bucketMeta}
	keySeq = []byte("seq")
)

// StoreOptions tune Open.
type StoreOptions struct {
	// Timeout bounds the wait for the file's lock; 0 means one second.
	Timeout time.Duration
	// NoSync skips fsync: tests only, never the agent.
	NoSync bool
}

// Store is the communications' bbolt file. Every change is one
// transaction, so a crash loses nothing acknowledged.
type Store struct {
	db *bbolt.DB
}

// Open opens (creating if needed) the store at file.
func Open(file string, opts StoreOptions) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return nil, fmt.Errorf("notify store %s: %w", file, err)
	}
	db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("notify store %s: open: %w", file, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keySeq) == nil {
			// A new file starts its seq at the time in microseconds, so a
			// wiped store never reuses a sequence number.
			return meta.Put(keySeq, be64(uint64(time.Now().UnixMicro())))
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("notify store %s: create buckets: %w", file, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// nextSeq hands out the next sequence number within tx.
func nextSeq(tx *bbolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	seq := binary.BigEndian.Uint64(meta.Get(keySeq)) + 1
	return seq, meta.Put(keySeq, be64(seq))
}

// randomID is 16 random bytes in hex, prefixed.
func randomID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b)
}

// hashKey is the sha256 of s: the key under which tokens and addresses are
// kept, so the file holds neither a usable token nor an address as a key.
func hashKey(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func updateKey(incidentID string, seq uint64) []byte {
	return append(append([]byte(incidentID), 0), be64(seq)...)
}

// AddUpdate stores an update of incident u.IncidentID (its ID is set
// here). An update of a manual incident also sets its status, and a
// resolved one ends it (a later update reopens it).
func (s *Store) AddUpdate(u *Update) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		seq, err := nextSeq(tx)
		if err != nil {
			return err
		}
		u.ID = fmt.Sprintf("u%d", seq)
		if err := putJSON(tx.Bucket(bucketUpdates), updateKey(u.IncidentID, seq), u); err != nil {
			return err
		}
		manual := tx.Bucket(bucketManual)
		raw := manual.Get([]byte(u.IncidentID))
		if raw == nil {
			return nil
		}
		var m ManualIncident
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("manual incident %s: %w", u.IncidentID, err)
		}
		m.Status, m.End = u.Status, nil
		if u.Status == Resolved {
			end := u.At
			m.End = &end
		}
		return putJSON(manual, []byte(m.ID), m)
	})
	if err != nil {
		return fmt.Errorf("notify store: add update to incident %s: %w", u.IncidentID, err)
	}
	return nil
}

// Updates returns the updates of an incident, oldest first; nil if it
// has none or the file cannot be read.
func (s *Store) Updates(incidentID string) []Update {
	out, _ := s.updates(incidentID)
	return out
}

// UpdatesOf returns the updates of several incidents in one read, by
// incident id (those without updates are left out): for the web server's
// incident list.
func (s *Store) UpdatesOf(incidentIDs []string) map[string][]Update {
	out := map[string][]Update{}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketUpdates).Cursor()
		for _, id := range incidentIDs {
			prefix := append([]byte(id), 0)
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				var u Update
				if json.Unmarshal(v, &u) == nil {
					out[id] = append(out[id], u)
				}
			}
		}
		return nil
	})
	return out
}

// UpdatesFor returns the updates of an automatic incident, oldest first:
// those posted under its id, and those posted under another id that
// recorded one of its outages (the id it had before it grew). Updates are
// few (operators write them), so all are read.
func (s *Store) UpdatesFor(incidentID string, outages []OutageRef) ([]Update, error) {
	held := make(map[OutageRef]bool, len(outages))
	for _, o := range outages {
		held[o] = true
	}
	var out []Update
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
			var u Update
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("update %x: %w", k, err)
			}
			mine := u.IncidentID == incidentID
			for _, o := range u.Outages {
				mine = mine || held[o]
			}
			if mine {
				out = append(out, u)
			}
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Update) int { return a.At.Compare(b.At) })
	return out, err
}

// OutagesOf returns the outages recorded with the updates posted under an
// incident id.
func (s *Store) OutagesOf(incidentID string) []OutageRef {
	updates, _ := s.updates(incidentID)
	var out []OutageRef
	for _, u := range updates {
		for _, o := range u.Outages {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

func (s *Store) updates(incidentID string) ([]Update, error) {
	var out []Update
	prefix := append([]byte(incidentID), 0)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketUpdates).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var u Update
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("update %x: %w", k, err)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify store: updates of incident %s: %w", incidentID, err)
	}
	return out, nil
}

// AddManualIncident stores a new manual incident with its first update
// (m.Updates[0]), in one transaction; it sets the update's ID.
func (s *Store) AddManualIncident(m *ManualIncident) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		manual := tx.Bucket(bucketManual)
		if manual.Get([]byte(m.ID)) != nil {
			return fmt.Errorf("id %s is taken", m.ID)
		}
		updates := m.Updates
		m.Updates = nil
		defer func() { m.Updates = updates }()
		if err := putJSON(manual, []byte(m.ID), m); err != nil {
			return err
		}
		for i := range updates {
			seq, err := nextSeq(tx)
			if err != nil {
				return err
			}
			updates[i].ID = fmt.Sprintf("u%d", seq)
			if err := putJSON(tx.Bucket(bucketUpdates), updateKey(m.ID, seq), updates[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify store: add manual incident %s: %w", m.ID, err)
	}
	return nil
}

// ManualIncident returns one manual incident with its updates.
func (s *Store) ManualIncident(id string) (ManualIncident, bool) {
	var m ManualIncident
	var found bool
	_ = s.db.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketManual).Get([]byte(id))
		found = raw != nil && json.Unmarshal(raw, &m) == nil
		return nil
	})
	if found {
		m.Updates = s.Updates(id)
	}
	return m, found
}

// ManualIncidents returns every manual incident with its updates, open
// ones first, then newest first.
func (s *Store) ManualIncidents() []ManualIncident {
	var out []ManualIncident
	_ = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketManual).ForEach(func(_, v []byte) error {
			var m ManualIncident
			if json.Unmarshal(v, &m) == nil {
				out = append(out, m)
			}
			return nil
		})
	})
	for i := range out {
		out[i].Updates = s.Updates(out[i].ID)
	}
	slices.SortFunc(out, func(a, b ManualIncident) int {
		if (a.End == nil) != (b.End == nil) {
			if a.End == nil {
				return -1
			}
			return 1
		}
		return b.Start.Compare(a.Start)
	})
	return out
}

// Subscriber is a webhook added over the API or an e-mail subscription.
// Email and Secret are never shown: the JSON of the API uses subscriberView.
type Subscriber struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"` // "webhook" or "email"
	URL      string   `json:"url,omitempty"`
	Secret   string   `json:"secret,omitempty"`
	Email    string   `json:"email,omitempty"`
	Events   []string `json:"events,omitempty"`
	Services []string `json:"services,omitempty"`
	// Confirmed is set when an e-mail subscriber followed the link of the
	// confirmation mail; webhooks are confirmed when added.
	Confirmed bool      `json:"confirmed"`
	Created   time.Time `json:"created"`
	// ConfirmRequested is when a confirmation mail was last queued: one
	// an hour at most, so that nobody can flood an address with them.
	ConfirmRequested time.Time `json:"confirm_requested,omitzero"`
	// UnsubscribeTokens are the hashes of the newest unsubscribe links
	// sent (at most maxUnsubscribeTokens).
	UnsubscribeTokens [][]byte `json:"unsubscribe_tokens,omitempty"`
}

// The channels a delivery goes through.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Token purposes.
const (
	purposeConfirm     = "confirm"
	purposeUnsubscribe = "unsubscribe"
)

// maxUnsubscribeTokens bounds the unsubscribe links of one subscriber
// that work: each mail carries a new one.
const maxUnsubscribeTokens = 64

// tokenRecord is what a token's hash stands for.
type tokenRecord struct {
	Subscriber string    `json:"subscriber"`
	Purpose    string    `json:"purpose"`
	Expires    time.Time `json:"expires,omitzero"`
}

// PutSubscriber adds or replaces a subscriber; an e-mail subscriber is
// indexed by the hash of its address.
func (s *Store) PutSubscriber(sub *Subscriber) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if sub.Type == ChannelEmail {
			if err := tx.Bucket(bucketEmails).Put(emailKey(sub.Email), []byte(sub.ID)); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bucketSubscribers), []byte(sub.ID), sub)
	})
	if err != nil {
		return fmt.Errorf("notify store: put subscriber %s: %w", sub.ID, err)
	}
	return nil
}

func emailKey(addr string) []byte {
	return hashKey("email:" + strings.ToLower(strings.TrimSpace(addr)))
}

func getSubscriber(tx *bbolt.Tx, id string) (*Subscriber, error) {
	raw := tx.Bucket(bucketSubscribers).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var sub Subscriber
	if err := json.Unmarshal(raw, &sub); err != nil {
		return nil, fmt.Errorf("subscriber %s: %w", id, err)
	}
	return &sub, nil
}

// Subscriber returns one subscriber.
func (s *Store) Subscriber(id string) (*Subscriber, error) {
	var sub *Subscriber
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		sub, err = getSubscriber(tx, id)
		return err
	})
	return sub, err
}

// SubscriberByEmail finds the subscriber of an address.
func (s *Store) SubscriberByEmail(addr string) (*Subscriber, error) {
	var sub *Subscriber
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		id := tx.Bucket(bucketEmails).Get(emailKey(addr))
		if id == nil {
			return nil
		}
		sub, err = getSubscriber(tx, string(id))
		return err
	})
	return sub, err
}

// Subscribers lists every subscriber.
func (s *Store) Subscribers() ([]Subscriber, error) {
	var out []Subscriber
	err := s.db.View(func(tx *bbolt.Tx) error {
		return forEachSubscriber(tx, func(sub Subscriber) { out = append(out, sub) })
	})
	return out, err
}

func forEachSubscriber(tx *bbolt.Tx, fn func(Subscriber)) error {
	return tx.Bucket(bucketSubscribers).ForEach(func(k, v []byte) error {
		var sub Subscriber
		if err := json.Unmarshal(v, &sub); err != nil {
			return fmt.Errorf("subscriber %s: %w", k, err)
		}
		fn(sub)
		return nil
	})
}

// DeleteSubscriber removes a subscriber, its tokens and its address; it
// reports whether there was one.
func (s *Store) DeleteSubscriber(id string) (bool, error) {
	var found bool
	err := s.db.Update(func(tx *bbolt.Tx) error {
		sub, err := getSubscriber(tx, id)
		if err != nil || sub == nil {
			return err
		}
		found = true
		return deleteSubscriber(tx, sub)
	})
	if err != nil {
		return found, fmt.Errorf("notify store: delete subscriber %s: %w", id, err)
	}
	return found, nil
}

func deleteSubscriber(tx *bbolt.Tx, sub *Subscriber) error {
	tokens := tx.Bucket(bucketTokens)
	// Its tokens: scanned, since a pending confirmation's hash is kept
	// only in the tokens bucket. The bucket is small (one row per link of
	// a live subscriber).
	var stale [][]byte
	if err := tokens.ForEach(func(k, v []byte) error {
		var rec tokenRecord
		if json.Unmarshal(v, &rec) == nil && rec.Subscriber == sub.ID {
			stale = append(stale, slices.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range stale {
		if err := tokens.Delete(k); err != nil {
			return err
		}
	}
	if sub.Type == ChannelEmail {
		if err := tx.Bucket(bucketEmails).Delete(emailKey(sub.Email)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketSubscribers).Delete([]byte(sub.ID))
}

// newToken makes a random token for a subscriber and stores its hash; it
// returns the token, which the store never holds.
func newToken(tx *bbolt.Tx, subscriberID, purpose string, expires time.Time) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	return token, putJSON(tx.Bucket(bucketTokens), hashKey(token), tokenRecord{Subscriber: subscriberID, Purpose: purpose, Expires: expires})
}

// IssueToken makes a confirm or unsubscribe token for a subscriber.
// Unsubscribe tokens past the newest maxUnsubscribeTokens stop working.
func (s *Store) IssueToken(subscriberID, purpose string, expires time.Time) (string, error) {
	var token string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		sub, err := getSubscriber(tx, subscriberID)
		if err != nil {
			return err
		}
		if sub == nil {
			return errNoSubscriber
		}
		if token, err = newToken(tx, subscriberID, purpose, expires); err != nil {
			return err
		}
		if purpose != purposeUnsubscribe {
			return nil
		}
		sub.UnsubscribeTokens = append(sub.UnsubscribeTokens, hashKey(token))
		for len(sub.UnsubscribeTokens) > maxUnsubscribeTokens {
			if err := tx.Bucket(bucketTokens).Delete(sub.UnsubscribeTokens[0]); err != nil {
				return err
			}
			sub.UnsubscribeTokens = sub.UnsubscribeTokens[1:]
		}
		return putJSON(tx.Bucket(bucketSubscribers), []byte(sub.ID), sub)
	})
	if err != nil && !errors.Is(err, errNoSubscriber) {
		err = fmt.Errorf("notify store: token for subscriber %s: %w", subscriberID, err)
	}
	return token, err
}

var (
	errNoSubscriber = errors.New("no such subscriber")
	errBadToken     = errors.New("the link is not valid (used, expired or mistyped)")
)

// Confirm follows a confirmation link: the token's subscriber becomes
// confirmed and the token is spent. It returns the subscriber's id.
func (s *Store) Confirm(token string, now time.Time) (string, error) {
	return s.useToken(token, purposeConfirm, now, func(tx *bbolt.Tx, sub *Subscriber) error {
		sub.Confirmed = true
		if err := tx.Bucket(bucketTokens).Delete(hashKey(token)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketSubscribers), []byte(sub.ID), sub)
	})
}

// Unsubscribe follows an unsubscribe link: the subscriber and all its
// tokens are deleted. It returns the subscriber's id.
func (s *Store) Unsubscribe(token string, now time.Time) (string, error) {
	return s.useToken(token, purposeUnsubscribe, now, deleteSubscriber)
}

// CheckToken reports whether an unsubscribe or confirm token works, without
// using it.
func (s *Store) CheckToken(token, purpose string, now time.Time) bool {
	_, err := s.useToken(token, purpose, now, func(*bbolt.Tx, *Subscriber) error { return errDryRun })
	return errors.Is(err, errDryRun)
}

var errDryRun = errors.New("dry run")

func (s *Store) useToken(token, purpose string, now time.Time, use func(*bbolt.Tx, *Subscriber) error) (string, error) {
	var id string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketTokens).Get(hashKey(token))
		if raw == nil {
			return errBadToken
		}
		var rec tokenRecord
		if err := json.Unmarshal(raw, &rec); err != nil || rec.Purpose != purpose {
			return errBadToken
		}
		if !rec.Expires.IsZero() && now.After(rec.Expires) {
			return errBadToken
		}
		sub, err := getSubscriber(tx, rec.Subscriber)
		if err != nil {
			return err
		}
		if sub == nil {
			return errBadToken
		}
		id = sub.ID
		return use(tx, sub)
	})
	return id, err
}

// PruneUnconfirmed deletes e-mail subscribers that did not confirm within
// ttl of subscribing; it returns how many.
func (s *Store) PruneUnconfirmed(now time.Time, ttl time.Duration) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var stale []Subscriber
		if err := forEachSubscriber(tx, func(sub Subscriber) {
			if sub.Type == ChannelEmail && !sub.Confirmed && now.Sub(sub.Created) > ttl {
				stale = append(stale, sub)
			}
		}); err != nil {
			return err
		}
		for i := range stale {
			if err := deleteSubscriber(tx, &stale[i]); err != nil {
				return err
			}
		}
		n = len(stale)
		return nil
	})
	return n, err
}

// Delivery is one message to one target, waiting in the queue.
type Delivery struct {
	Seq uint64 `json:"seq"`
	// ID is the X-Vigil-Delivery header: the same on every attempt, so a
	// receiver dedupes by it.
	ID      string `json:"id"`
	Channel string `json:"channel"` // webhook or email
	// Target is the subscriber id (or a config webhook's id).
	Target string `json:"target"`
	// Kind is "event", or "confirm" for a confirmation mail.
	Kind        string          `json:"kind"`
	EventType   EventType       `json:"event_type,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"` // the Event as sent
	Created     time.Time       `json:"created"`
	Attempts    int             `json:"attempts"`
	NextAttempt time.Time       `json:"next_attempt"`
	LastError   string          `json:"last_error,omitempty"`
}

// publishedEvent is an event as Publish recorded it.
type publishedEvent struct {
	Published time.Time       `json:"published"`
	Body      json.RawMessage `json:"body"`
}

// addEvent records a published event.
func (s *Store) addEvent(pe publishedEvent) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		seq, err := nextSeq(tx)
		if err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketEvents), be64(seq), pe)
	})
}

// enqueue adds deliveries within tx, giving each its seq, and drops the
// oldest entries over maxPending; it returns those dropped.
func enqueue(tx *bbolt.Tx, ds []Delivery, maxPending int) ([]Delivery, error) {
	q := tx.Bucket(bucketQueue)
	for i := range ds {
		seq, err := nextSeq(tx)
		if err != nil {
			return nil, err
		}
		ds[i].Seq = seq
		if err := putJSON(q, be64(seq), ds[i]); err != nil {
			return nil, err
		}
	}
	over := countKeys(q) - maxPending
	var dropped []Delivery
	c := q.Cursor()
	for k, v := c.First(); k != nil && over > 0; k, v = c.First() {
		var d Delivery
		_ = json.Unmarshal(v, &d)
		dropped = append(dropped, d)
		if err := c.Delete(); err != nil {
			return nil, err
		}
		over--
	}
	return dropped, nil
}

// Enqueue adds deliveries in one transaction (see Publish).
func (s *Store) Enqueue(ds []Delivery, maxPending int) (dropped []Delivery, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		dropped, err = enqueue(tx, ds, maxPending)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notify store: enqueue %d deliveries: %w", len(ds), err)
	}
	return dropped, nil
}

// Pending lists the queue in order.
func (s *Store) Pending() ([]Delivery, error) {
	var out []Delivery
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("queue entry %x: %w", k, err)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("notify store: read queue: %w", err)
	}
	return out, nil
}

// PendingCount is the queue's length, plus the events published but not
// yet turned into deliveries (at least one each, most likely).
func (s *Store) PendingCount() int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		n = countKeys(tx.Bucket(bucketQueue)) + countKeys(tx.Bucket(bucketEvents))
		return nil
	})
	return n
}

// Done removes a delivery from the queue.
func (s *Store) Done(seq uint64) error {
	err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketQueue).Delete(be64(seq)) })
	if err != nil {
		return fmt.Errorf("notify store: remove delivery %d: %w", seq, err)
	}
	return nil
}

// Retry records a failed attempt of a delivery still queued.
func (s *Store) Retry(d *Delivery) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		if q.Get(be64(d.Seq)) == nil {
			return nil // dropped meanwhile
		}
		return putJSON(q, be64(d.Seq), d)
	})
	if err != nil {
		return fmt.Errorf("notify store: record attempt of delivery %d: %w", d.Seq, err)
	}
	return nil
}

// countKeys counts a bucket's keys with a cursor (Bucket.Stats does not
// see what a write transaction has not committed yet).
func countKeys(b *bbolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
