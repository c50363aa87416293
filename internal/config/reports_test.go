package config

import (
	"strings"
	"testing"
)

func TestReports(t *testing.T) {
	const base = `agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
reports:
`
	c, err := Parse("vigil.yml", []byte(base+`  - {name: monthly, cron: "0 9 1 * *", timezone: Asia/Seoul, to: [ops@example.com, "https://hooks.example.com/sla"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Reports[0]
	if r.Range != "previous-month" || r.Format != "markdown" || r.Location.String() != "Asia/Seoul" || len(r.To) != 2 {
		t.Errorf("report %+v, want defaults previous-month, markdown, Asia/Seoul", r)
	}
	_, err = Parse("vigil.yml", []byte(base+`  - {name: monthly, cron: "0 9 1 * *", to: [ops@example.com]}
  - {name: monthly, cron: "nine on the first", timezone: Mars/Olympus, range: last-month, format: docx, to: [ops]}
`))
	for _, want := range []string{
		`vigil.yml:9: reports[1].name: "monthly" is used by an earlier report`,
		`vigil.yml:9: reports[1].format: "docx" is not one of`,
		`vigil.yml:9: reports[1].timezone: "Mars/Olympus"`,
		`vigil.yml:9: reports[1].cron: "nine on the first"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}
