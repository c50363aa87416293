package msgprobe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func redisAdmin(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisRoundTrip(t *testing.T) {
	url := requireBroker(t, envRedis, defaultRedis)
	tests := []struct {
		name     string
		protocol string
		messages int
		maxLen   int64
	}{
		{name: "pubsub one", protocol: "redis", messages: 1},
		{name: "pubsub default three", protocol: "redis"},
		{name: "pubsub two hundred", protocol: "redis", messages: 200},
		{name: "stream three", protocol: "redis-stream", messages: 3},
		{name: "stream two hundred trimmed", protocol: "redis-stream", messages: 200, maxLen: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := uniqueTopic(t)
			cfg := &Config{Protocol: tc.protocol, URL: url, Topic: topic, Messages: tc.messages, RedisOptions: RedisOptions{StreamMaxLen: tc.maxLen}}
			admin := redisAdmin(t, url)
			t.Cleanup(func() { admin.Del(context.Background(), topic) })
			assertRoundTrip(t, runRoundTrip(t, cfg), cfg.messages())
			if tc.protocol == "redis-stream" {
				// Every entry the probe added is deleted once read back or at Close.
				n, err := admin.XLen(context.Background(), topic).Result()
				if err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("stream %s holds %d entries after the run, want 0", topic, n)
				}
			}
		})
	}
}

// TestRedisStreamKeepsOthersEntries checks the probe reads only what was added
// after it subscribed and deletes only its own entries.
func TestRedisStreamKeepsOthersEntries(t *testing.T) {
	url := requireBroker(t, envRedis, defaultRedis)
	topic := uniqueTopic(t)
	admin := redisAdmin(t, url)
	ctx := context.Background()
	t.Cleanup(func() { admin.Del(ctx, topic) })
	for _, v := range []string{"vigil1.someone-else.x.1.0.00000000", "unrelated"} {
		if err := admin.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: []any{"payload", v}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &Config{Protocol: "redis-stream", URL: url, Topic: topic, Messages: 4}
	assertRoundTrip(t, runRoundTrip(t, cfg), 4)
	if n := admin.XLen(ctx, topic).Val(); n != 2 {
		t.Errorf("stream holds %d entries, want the 2 others added", n)
	}
}

func TestRedisFailures(t *testing.T) {
	url := requireBroker(t, envRedis, defaultRedis)
	admin := redisAdmin(t, url)
	ctx := context.Background()
	// An ACL user with a password, so that a wrong one can be refused even
	// though the default user needs none here.
	user := "vigil-test-" + sanitizeID(t.Name(), 16)
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">R1ghtPassw0rd", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })

	tests := []struct {
		name     string
		protocol string
		cfg      Config
		want     []string
		pass     bool
	}{
		{name: "broker down", protocol: "redis", cfg: Config{URL: "redis://" + closedPortAddr(t) + "/0"},
			want: []string{"connect redis://127.0.0.1:", "connection refused"}},
		{name: "wrong password key", protocol: "redis", cfg: Config{URL: url, Username: user, Password: probeconfig.Secret("Wr0ngPassw0rd")},
			want: []string{"connect redis://127.0.0.1:6379/0", "WRONGPASS"}},
		{name: "wrong password in url stream", protocol: "redis-stream",
			cfg:  Config{URL: strings.Replace(url, "redis://", "redis://"+user+":Wr0ngPassw0rd@", 1)},
			want: []string{"WRONGPASS"}},
		{name: "right password", protocol: "redis", cfg: Config{URL: url, Username: user, Password: probeconfig.Secret("R1ghtPassw0rd")}, pass: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Protocol, cfg.Topic = tc.protocol, uniqueTopic(t)
			begin := time.Now()
			r := runRoundTripWith(t, &cfg, testOptions(t), 3*time.Second)
			if tc.pass {
				assertRoundTrip(t, r, 3)
				return
			}
			if r.Success {
				t.Fatal("run passed")
			}
			if took := time.Since(begin); took > 3500*time.Millisecond {
				t.Errorf("failing run took %v, want within the 3s timeout", took)
			}
			msg := r.ErrorString()
			for _, want := range append(tc.want, tc.protocol+" probe "+testOptions(t).CheckID+": ") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "Passw0rd") {
				t.Errorf("error %q shows the secret", msg)
			}
		})
	}
}
