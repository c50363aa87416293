package msgprobe

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMQTTRoundTrip(t *testing.T) {
	url := requireBroker(t, envMQTT, defaultMQTT)
	type test struct {
		name     string
		version  string
		qos      int
		clean    bool
		messages int
	}
	var tests []test
	for _, version := range []string{"3.1.1", "5"} {
		for qos := 0; qos <= 2; qos++ {
			tests = append(tests, test{name: fmt.Sprintf("v%s qos%d", version, qos), version: version, qos: qos, clean: true, messages: 3})
		}
		tests = append(tests, test{name: "v" + version + " persistent session", version: version, qos: 1, clean: false, messages: 5})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qos, clean := tc.qos, tc.clean
			cfg := &Config{Protocol: "mqtt", URL: url, Topic: strings.ReplaceAll(uniqueTopic(t), ".", "/"), Messages: tc.messages,
				MQTTOptions: MQTTOptions{QoS: &qos, MQTTVersion: tc.version, CleanSession: &clean}}
			assertRoundTrip(t, runRoundTrip(t, cfg), tc.messages)
		})
	}
}

func TestMQTTBrokerDown(t *testing.T) {
	for _, version := range []string{"3.1.1", "5"} {
		t.Run(version, func(t *testing.T) {
			cfg := &Config{Protocol: "mqtt", URL: "tcp://" + closedPortAddr(t), Topic: "vigil/down", MQTTOptions: MQTTOptions{MQTTVersion: version}}
			begin := time.Now()
			r := runRoundTripWith(t, cfg, testOptions(t), 3*time.Second)
			if r.Success {
				t.Fatal("run against a closed port passed")
			}
			if took := time.Since(begin); took > 3500*time.Millisecond {
				t.Errorf("failing run took %v, want within the 3s timeout", took)
			}
			msg := r.ErrorString()
			for _, want := range []string{"mqtt probe " + testOptions(t).CheckID + ": connect tcp://127.0.0.1:", "connection refused"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}
