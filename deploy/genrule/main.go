// Command genrule writes deploy/kubernetes/prometheusrule.yaml from
// deploy/prometheus/vigil-rules.yml. Run it from deploy/ (go generate ./deploy/).
package main

import (
	"fmt"
	"os"

	"github.com/vigil-monitoring/vigil/deploy"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genrule:", err)
		os.Exit(1)
	}
}

func run() error {
	rules, err := os.ReadFile(deploy.RulesPath)
	if err != nil {
		return err
	}
	manifest, err := deploy.PrometheusRule(rules)
	if err != nil {
		return fmt.Errorf("%s: %w", deploy.RulesPath, err)
	}
	return os.WriteFile(deploy.PrometheusRulePath, manifest, 0o644)
}
