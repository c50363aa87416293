package dashboards

import "fmt"

// Label selectors shared by the panels; the variables are Grafana's.
const (
	byFeature = `region=~"$region", service=~"$service", feature=~"$feature"`
	byCheck   = byFeature + `, check=~"$check"`
	byAgent   = `region=~"$region", instance=~"$instance"`
)

// All returns every Vigil dashboard.
func All() []*Dashboard {
	return []*Dashboard{Overview(), Feature(), Regions(), Agent()}
}

// featureVariables are region, service and feature, each narrowed by the ones
// before it; single makes service and feature single-valued.
func featureVariables(single bool) []Variable {
	return []Variable{
		labelValues("region", "vigil_feature_up", "", true),
		labelValues("service", "vigil_feature_up", `region=~"$region"`, !single),
		labelValues("feature", "vigil_feature_up", `region=~"$region", service=~"$service"`, !single),
	}
}

// Overview is every feature of every service at a glance, per region.
func Overview() *Dashboard {
	return newDashboard("vigil-overview", "Vigil / Overview",
		"Every feature of every service, per region: state now and over time, availability against the objective, error budget, open outages.",
		featureVariables(false),

		row("Now"),
		stat("Features down", "none", 4,
			query(fmt.Sprintf(`count(vigil_feature_up{%s} == 0) or vector(0)`, byFeature), "")).
			steps("green", 1, "red"),
		stat("Features degraded", "none", 4,
			query(fmt.Sprintf(`count(vigil_feature_state{%s, state="degraded"} == 1) or vector(0)`, byFeature), "")).
			steps("green", 1, "yellow"),
		stat("Open outages", "none", 4,
			query(fmt.Sprintf(`count(vigil_outage_active{%s} == 1) or vector(0)`, byFeature), "")).
			steps("green", 1, "red"),
		stat("Features watched", "none", 4,
			query(fmt.Sprintf(`count(count by (service, feature) (vigil_feature_up{%s}))`, byFeature), "")).
			steps("blue"),
		stat("Regions reporting", "none", 4,
			query(fmt.Sprintf(`count(count by (region) (vigil_feature_up{%s}))`, byFeature), "")).
			steps("blue"),
		stat("Worst availability (SLO window)", "percentunit", 4,
			query(fmt.Sprintf(`min(vigil_sla_availability_ratio{%s, window="slo"})`, byFeature), "")).
			decimals(3).steps("red", 0.99, "yellow", 0.999, "green"),

		table("Status grid: features by region", "", 24, 8,
			instant(fmt.Sprintf(`label_join(%s, "service_feature", "/", "service", "feature")`,
				stateCode(byFeature, "region", "service", "feature")))).
			describe("The state of each feature (rows) as seen from each region (columns).").
			mapping(stateMapping()).cellColors().
			transform("groupingToMatrix", map[string]any{"columnField": "region", "rowField": "service_feature", "valueField": "Value", "emptyValue": "null"}),

		row("Over time"),
		stateTimeline("Feature states", 24, 10, stateMapping(),
			query(stateCode(byFeature, "region", "service", "feature"), "{{service}}/{{feature}} @ {{region}}")),

		row("SLA"),
		table("Availability against objective", "percentunit", 16, 9,
			instant(fmt.Sprintf(`max by (region, service, feature) (vigil_sla_availability_ratio{%s, window="slo"})`, byFeature)),
			instant(fmt.Sprintf(`max by (region, service, feature) (vigil_sla_objective_ratio{%s})`, byFeature)),
			instant(fmt.Sprintf(`max by (region, service, feature) (vigil_sla_error_budget_remaining_ratio{%s})`, byFeature))).
			describe("Availability over each feature's SLO window, its objective, and the error budget left.").
			decimals(3).
			transform("merge", map[string]any{}).
			hideColumns("Time").
			transform("renameByName", map[string]any{"renameByName": map[string]any{
				"Value #A": "availability", "Value #B": "objective", "Value #C": "budget left",
			}}),
		barGauge("Error budget remaining", "percentunit", 8, 9,
			query(fmt.Sprintf(`vigil_sla_error_budget_remaining_ratio{%s}`, byFeature), "{{service}}/{{feature}} @ {{region}}")).
			limits(-1, 1).steps("red", 0, "orange", 0.25, "yellow", 0.5, "green"),

		row("Outages"),
		table("Open outages by feature", "s", 24, 6,
			instant(fmt.Sprintf(`(time() - vigil_outage_start_timestamp_seconds{%s}) and on (region, service, feature) (vigil_outage_active{%s} == 1)`, byFeature, byFeature))).
			describe("Features with an open outage and how long it has lasted. Empty when all is well.").
			hideColumns("Time", "__name__", "job").
			transform("renameByName", map[string]any{"renameByName": map[string]any{"Value": "open for"}}),
		timeseries("Outages opened", "none", 24,
			query(fmt.Sprintf(`sum by (region, service, feature) (increase(vigil_outages_total{%s}[$__rate_interval]))`, byFeature), "{{service}}/{{feature}} @ {{region}}")).
			describe("Outages opened per interval, by feature and region."),
	)
}

// Feature is one feature in depth: states, checks, latency, SLA.
func Feature() *Dashboard {
	vars := append(featureVariables(true),
		labelValues("check", "vigil_check_up", `region=~"$region", service=~"$service", feature=~"$feature"`, true))
	d := newDashboard("vigil-feature", "Vigil / Feature",
		"One feature in depth: its state per region, its checks with latency and phases, outages, availability and burn rates.",
		vars, append(featureCheckPanels(), featureSLAPanels()...)...)
	d.Annotations.List = []Annotation{{
		Name: "Outages", Datasource: datasource, Enable: true, IconColor: "red",
		Expr:        fmt.Sprintf(`vigil_outage_active{%s} == 1`, byFeature),
		Step:        "30s",
		TitleFormat: "Outage",
		TextFormat:  "{{service}}/{{feature}} down as seen from {{region}}",
		TagKeys:     "region,service,feature",
	}}
	return d
}

// featureCheckPanels is the Feature dashboard's state and checks rows.
func featureCheckPanels() []*Panel {
	return []*Panel{
		row("State"),
		stateTimeline("Feature state by region", 24, 6, stateMapping(),
			query(stateCode(byFeature, "region", "service", "feature"), "{{region}}")),
		stateTimeline("Check results", 24, 8, passFail("fail", "pass"),
			query(fmt.Sprintf(`vigil_check_up{%s}`, byCheck), "{{check}} ({{kind}}) @ {{region}}")),
		stat("Availability (SLO window)", "percentunit", 8,
			query(fmt.Sprintf(`vigil_sla_availability_ratio{%s, window="slo"}`, byFeature), "{{region}}")).
			decimals(3).steps("red", 0.99, "yellow", 0.999, "green"),
		stat("Objective", "percentunit", 8,
			query(fmt.Sprintf(`max(vigil_sla_objective_ratio{%s})`, byFeature), "")).
			decimals(3).steps("blue"),
		stat("Error budget remaining", "percentunit", 8,
			query(fmt.Sprintf(`vigil_sla_error_budget_remaining_ratio{%s}`, byFeature), "{{region}}")).
			steps("red", 0, "orange", 0.25, "yellow", 0.5, "green"),

		row("Checks"),
		timeseries("Check duration p50 / p95", "s", 12,
			query(durationQuantile("0.5", "region, check", byCheck), "p50 {{check}} @ {{region}}"),
			query(durationQuantile("0.95", "region, check", byCheck), "p95 {{check}} @ {{region}}")),
		timeseries("Phases of the last run", "s", 12,
			query(fmt.Sprintf(`vigil_check_phase_duration_seconds{%s}`, byCheck), "{{check}} {{phase}} @ {{region}}")).
			describe("resolve, connect, tls, processing, transfer (http); request (dns); connect, subscribe, publish, deliver (messaging).").
			stacked(),
		timeseries("Runs by result", "ops", 12,
			query(fmt.Sprintf(`sum by (region, check, result) (rate(vigil_check_runs_total{%s}[$__rate_interval]))`, byCheck), "{{check}} {{result}} @ {{region}}")),
		timeseries("HTTP status code", "none", 12,
			query(fmt.Sprintf(`vigil_http_status_code{%s}`, byCheck), "{{check}} @ {{region}}")),
		timeseries("TLS certificate expires in", "s", 12,
			query(fmt.Sprintf(`vigil_tls_cert_expiry_timestamp_seconds{%s} - time()`, byCheck), "{{check}} @ {{region}}")).
			steps("red", 3*86400, "orange", 14*86400, "green").thresholdLines(),
		timeseries("DNS answer records", "none", 12,
			query(fmt.Sprintf(`vigil_dns_answer_rrs{%s}`, byCheck), "{{check}} @ {{region}}")),
		timeseries("Message round trip p50 / p95", "s", 12,
			query(fmt.Sprintf(`histogram_quantile(0.5, sum by (le, region, check) (rate(vigil_message_roundtrip_seconds_bucket{%s}[$__rate_interval])))`, byCheck), "p50 {{check}} @ {{region}}"),
			query(fmt.Sprintf(`histogram_quantile(0.95, sum by (le, region, check) (rate(vigil_message_roundtrip_seconds_bucket{%s}[$__rate_interval])))`, byCheck), "p95 {{check}} @ {{region}}")),
		timeseries("Messages lost, duplicated, reordered", "none", 12,
			query(fmt.Sprintf(`sum by (region, check) (increase(vigil_messages_lost_total{%s}[$__rate_interval]))`, byCheck), "lost {{check}} @ {{region}}"),
			query(fmt.Sprintf(`sum by (region, check) (increase(vigil_messages_duplicated_total{%s}[$__rate_interval]))`, byCheck), "duplicated {{check}} @ {{region}}"),
			query(fmt.Sprintf(`sum by (region, check) (increase(vigil_messages_reordered_total{%s}[$__rate_interval]))`, byCheck), "reordered {{check}} @ {{region}}")),
	}
}

// featureSLAPanels is the Feature dashboard's SLA row.
func featureSLAPanels() []*Panel {
	return []*Panel{
		row("SLA"),
		timeseries("Burn rate", "none", 12,
			query(fmt.Sprintf(`vigil_sla_burn_rate{%s}`, byFeature), "{{window}} @ {{region}}")).
			describe("Error rate over each window divided by the error rate the objective allows. Lines: 1 and 3 (ticket with 6h/3d, 2h/1d), 6 and 14.4 (page with 30m/6h, 5m/1h).").
			steps("green", 1, "yellow", 3, "orange", 6, "red", 14.4, "dark-red").thresholdLines(),
		timeseries("Availability by window", "percentunit", 12,
			query(fmt.Sprintf(`vigil_sla_availability_ratio{%s}`, byFeature), "{{window}} @ {{region}}")).
			decimals(3),
		timeseries("Error budget over time", "percentunit", 12,
			query(fmt.Sprintf(`vigil_sla_error_budget_remaining_ratio{%s}`, byFeature), "{{region}}")).
			steps("red", 0, "green").thresholdLines(),
		timeseries("Downtime, degraded and unmonitored time", "s", 12,
			query(fmt.Sprintf(`sum by (region) (increase(vigil_sla_downtime_seconds_total{%s}[$__rate_interval]))`, byFeature), "down @ {{region}}"),
			query(fmt.Sprintf(`sum by (region) (increase(vigil_sla_degraded_seconds_total{%s}[$__rate_interval]))`, byFeature), "degraded @ {{region}}"),
			query(fmt.Sprintf(`sum by (region) (increase(vigil_sla_unmonitored_seconds_total{%s}[$__rate_interval]))`, byFeature), "unmonitored @ {{region}}")).
			stacked(),
		stat("Outages in the time range", "none", 12,
			query(fmt.Sprintf(`sum by (region) (increase(vigil_outages_total{%s}[$__range]))`, byFeature), "{{region}}")).
			decimals(0).steps("green", 1, "red"),
		stat("Last outage lasted", "s", 12,
			query(fmt.Sprintf(`vigil_outage_last_duration_seconds{%s}`, byFeature), "{{region}}")).
			describe("Length of the current or last outage; empty until the feature's first outage.").
			steps("blue"),
	}
}

// Regions compares what each region sees.
func Regions() *Dashboard {
	return newDashboard("vigil-regions", "Vigil / Regions",
		"What each region (vantage point) sees: features down per region, regions down per feature, availability and latency side by side.",
		featureVariables(false),

		row("Regions"),
		timeseries("Features down per region", "none", 12,
			query(`vigil:region_features_down:count{region=~"$region"}`, "{{region}}")).
			describe("Recorded by vigil-rules.yml. Most of a region's features down at once raises VigilRegionDark.").
			steps("green", 1, "red"),
		barGauge("Share of features up", "percentunit", 12, 8,
			query(`1 - vigil:region_features_down:count{region=~"$region"} / vigil:region_features:count{region=~"$region"}`, "{{region}}")).
			limits(0, 1).steps("red", 0.5, "yellow", 0.99, "green"),
		timeseries("Datacenters: features down, per region", "none", 12,
			query(`vigil:datacenter_features_down:count{region=~"$region"}`, "{{datacenter}} from {{region}}")).
			describe("Features hosted in each datacenter (the datacenter label of vigil_feature_info) that are down, as seen from each region."),
		timeseries("Failed runs per region", "percentunit", 12,
			query(fmt.Sprintf(`sum by (region) (rate(vigil_check_runs_total{%s, result!="success"}[$__rate_interval])) / sum by (region) (rate(vigil_check_runs_total{%s}[$__rate_interval]))`, byFeature, byFeature), "{{region}}")).
			limits(0, 1),

		row("Features across regions"),
		table("Availability (30d): features by region", "percentunit", 24, 8,
			instant(fmt.Sprintf(`label_join(vigil_sla_availability_ratio{%s, window="30d"}, "service_feature", "/", "service", "feature")`, byFeature))).
			decimals(3).steps("red", 0.99, "yellow", 0.999, "green").cellColors().
			transform("groupingToMatrix", map[string]any{"columnField": "region", "rowField": "service_feature", "valueField": "Value", "emptyValue": "null"}),
		timeseries("Regions down per feature", "none", 12,
			query(`vigil:feature_regions_down:count{service=~"$service", feature=~"$feature"}`, "{{service}}/{{feature}}")).
			describe("Two or more raises VigilFeatureDownMultiRegion.").
			steps("green", 1, "orange", 2, "red"),
		timeseries("Worst availability (30d) across regions", "percentunit", 12,
			query(`vigil:sla_availability_ratio:min30d{service=~"$service", feature=~"$feature"}`, "{{service}}/{{feature}}")).
			decimals(3),
		timeseries("Check duration p95 by region", "s", 12,
			query(durationQuantile("0.95", "region", byFeature), "{{region}}")),
		timeseries("Burn rate (1h) by region", "none", 12,
			query(fmt.Sprintf(`max by (region) (vigil_sla_burn_rate{%s, window="1h"})`, byFeature), "{{region}}")).
			steps("green", 6, "orange", 14.4, "red").thresholdLines(),
	)
}

// Agent is the health of the agents themselves.
func Agent() *Dashboard {
	return newDashboard("vigil-agent", "Vigil / Agent",
		"The agents themselves: builds, scrape health, schedule lateness, runs, config reloads, checks configured and in flight.",
		[]Variable{
			labelValues("region", "vigil_build_info", "", true),
			labelValues("instance", "vigil_build_info", `region=~"$region"`, true),
		},

		row("Agents"),
		table("Builds", "", 12, 6,
			instant(fmt.Sprintf(`vigil_build_info{%s}`, byAgent))).
			hideColumns("Time", "__name__", "Value"),
		stat("Scrape up", "none", 4,
			query(`up{job="vigil", instance=~"$instance"}`, "{{instance}}")).
			mapping(passFail("down", "up")).steps("red", 1, "green"),
		stat("Last reload", "none", 4,
			query(fmt.Sprintf(`vigil_config_last_reload_successful{%s}`, byAgent), "{{instance}}")).
			mapping(passFail("failed", "ok")).steps("red", 1, "green"),
		stat("Config age", "s", 4,
			query(fmt.Sprintf(`time() - vigil_config_last_reload_success_timestamp_seconds{%s}`, byAgent), "{{instance}}")).
			describe("Time since the last successful config load or reload.").
			steps("blue"),

		row("Schedule"),
		timeseries("Schedule lateness", "s", 12,
			query(fmt.Sprintf(`histogram_quantile(0.5, sum by (le, instance) (rate(vigil_schedule_lateness_seconds_bucket{%s}[$__rate_interval])))`, byAgent), "p50 {{instance}}"),
			query(fmt.Sprintf(`histogram_quantile(0.9, sum by (le, instance) (rate(vigil_schedule_lateness_seconds_bucket{%s}[$__rate_interval])))`, byAgent), "p90 {{instance}}"),
			query(fmt.Sprintf(`histogram_quantile(0.99, sum by (le, instance) (rate(vigil_schedule_lateness_seconds_bucket{%s}[$__rate_interval])))`, byAgent), "p99 {{instance}}")).
			describe("Actual start minus planned start of check runs. Growing lateness: the agent has more checks than it can run on time."),
		timeseries("Runs by result", "ops", 12,
			query(fmt.Sprintf(`sum by (instance, result) (rate(vigil_check_runs_total{%s}[$__rate_interval]))`, byAgent), "{{result}} {{instance}}")).
			stacked(),
		timeseries("Checks configured and in flight", "none", 12,
			query(fmt.Sprintf(`vigil_checks_configured{%s}`, byAgent), "configured {{instance}}"),
			query(fmt.Sprintf(`vigil_checks_in_flight{%s}`, byAgent), "in flight {{instance}}")),
		timeseries("Config reloads", "none", 12,
			query(fmt.Sprintf(`vigil_config_last_reload_successful{%s}`, byAgent), "last reload ok {{instance}}"),
			query(fmt.Sprintf(`changes(vigil_config_last_reload_success_timestamp_seconds{%s}[$__rate_interval])`, byAgent), "successful reloads {{instance}}")).
			limits(0, 1),

		row("Process"),
		timeseries("Resident memory", "bytes", 12,
			query(fmt.Sprintf(`process_resident_memory_bytes{%s}`, byAgent), "{{instance}}")).
			describe("Should stay flat: the SLA engine keeps transitions and outages, not raw results."),
		timeseries("Goroutines", "none", 12,
			query(fmt.Sprintf(`go_goroutines{%s}`, byAgent), "{{instance}}")),
		timeseries("Scrape duration", "s", 12,
			query(`scrape_duration_seconds{job="vigil", instance=~"$instance"}`, "{{instance}}")),
		timeseries("Samples per scrape", "none", 12,
			query(`scrape_samples_scraped{job="vigil", instance=~"$instance"}`, "{{instance}}")),
	)
}

// durationQuantile is a quantile of the check durations by the labels of by,
// over the classic buckets or, where Prometheus scrapes native histograms
// (and then stores no classic series), over the native one.
func durationQuantile(q, by, selector string) string {
	return fmt.Sprintf(`histogram_quantile(%[1]s, sum by (le, %[2]s) (rate(vigil_check_duration_seconds_bucket{%[3]s}[$__rate_interval])))`+
		` or histogram_quantile(%[1]s, sum by (%[2]s) (rate(vigil_check_duration_seconds{%[3]s}[$__rate_interval])))`, q, by, selector)
}
