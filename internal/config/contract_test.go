package config

import (
	"strings"
	"testing"
	"time"
)

const contractConfig = `agent: {region: kr-central-1}
services:
  - name: talk
    sla:
      objective: 99.5
      timezone: Asia/Seoul
      covered_hours: ["Mon-Fri 09:00-18:00"]
      excluded_dates: ["2026-11-03"]
      credits: [{below: 99.5, credit: 10}, {below: 99.0, credit: 25}]
    features:
      - name: send
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: recv
        slo: {objective: 99.95}
        sla: {timezone: UTC}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`

func TestContracts(t *testing.T) {
	c, err := Parse("vigil.yml", []byte(contractConfig))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Contracts()
	send, recv := got["talk/send"], got["talk/recv"]
	if len(got) != 2 || send.Objective != 99.5 || send.Location.String() != "Asia/Seoul" || len(send.Hours) != 1 ||
		send.Hours[0].String() != "Mon-Fri 09:00-18:00" || len(send.Excluded) != 1 || send.Excluded[0].String() != "2026-11-03" ||
		len(send.Credits) != 2 || send.Credits[1].Credit != 25 {
		t.Errorf("talk/send inherits the service's contract: %+v", send)
	}
	// The feature's block replaces the service's whole; its objective is slo.objective.
	if recv.Objective != 99.95 || recv.Location != time.UTC || len(recv.Hours) != 0 || len(recv.Credits) != 0 {
		t.Errorf("talk/recv has its own contract: %+v", recv)
	}
}

func TestContractErrors(t *testing.T) {
	bad := `agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        sla:
          objective: 100
          timezone: Mars/Olympus
          covered_hours: ["Mon-Fri 9-18", "Sat 10:00-14:00"]
          excluded_dates: ["2026-13-01"]
          credits: [{below: 99.9, credit: 25}, {below: 99.0, credit: 10}, {below: 99.9, credit: 30}, {below: 0, credit: 5}]
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`
	want := []string{
		`vigil.yml:7: services[0].features[0].sla.objective: must be a percentage in (0, 100), like 99.9, not 100`,
		`vigil.yml:8: services[0].features[0].sla.timezone: unknown time zone "Mars/Olympus"`,
		`vigil.yml:9: services[0].features[0].sla.covered_hours[0]: covered hours "Mon-Fri 9-18": "9-18" is not a time range`,
		`vigil.yml:10: services[0].features[0].sla.excluded_dates[0]: date "2026-13-01" is not YYYY-MM-DD`,
		`vigil.yml:11: services[0].features[0].sla.credits[2].below: 99.9 is also the threshold of credits[0]`,
		`vigil.yml:11: services[0].features[0].sla.credits[3].below: must be a percentage in (0, 100], not 0`,
		`vigil.yml:11: services[0].features[0].sla.credits: below 99 owes 10%, less than 25% below 99.9`,
	}
	_, err := Parse("vigil.yml", []byte(bad))
	if err == nil {
		t.Fatal("Parse accepted a bad sla block")
	}
	got := strings.Split(err.Error(), "\n")
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d:\n got %q\nwant %q...", i, at(got, i), w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
}
