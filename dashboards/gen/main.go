// Command gen writes the Grafana dashboards of package dashboards as JSON
// files into the current directory (go generate ./dashboards/).
package main

import (
	"fmt"
	"os"

	"github.com/vigil-monitoring/vigil/dashboards"
)

func main() {
	for _, d := range dashboards.All() {
		data, err := d.JSON()
		if err == nil {
			err = os.WriteFile(d.FileName(), data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: dashboard %s: %v\n", d.UID, err)
			os.Exit(1)
		}
	}
}
