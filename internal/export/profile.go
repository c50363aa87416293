package export

import (
	"fmt"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/sla"
)

// Profile is how many series a check or a feature exports: metrics.profile in
// the config. The profiles nest: basic's series are in standard, standard's in
// full.
type Profile uint8

// The profiles. The zero Profile is ProfileStandard, the agent's default.
const (
	// ProfileBasic keeps what the shipped alerts, dashboards and the SLA need,
	// in as few series as that takes: at most 25 for a one-check HTTP feature.
	ProfileBasic Profile = iota + 1
	// ProfileStandard is ProfileFull less the families no shipped rule or
	// dashboard reads (familyProfiles).
	ProfileStandard
	// ProfileFull is every series Vigil knows.
	ProfileFull
)

// ProfileNames are the values metrics.profile takes, smallest first.
var ProfileNames = []string{"basic", "standard", "full"}

// ParseProfile reads a metrics.profile value; "" is the default, standard.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "basic":
		return ProfileBasic, nil
	case "", "standard":
		return ProfileStandard, nil
	case "full":
		return ProfileFull, nil
	}
	return 0, fmt.Errorf("metrics profile %q: want basic, standard or full", s)
}

// String is the profile's config name.
func (p Profile) String() string {
	switch p.or() {
	case ProfileBasic:
		return "basic"
	case ProfileFull:
		return "full"
	}
	return "standard"
}

// or is p, the zero Profile read as the default.
func (p Profile) or() Profile {
	if p == 0 {
		return ProfileStandard
	}
	return p
}

// familyProfiles is the smallest profile each family is in. A family not
// listed is in standard and full: a new family costs a basic user nothing until
// a shipped rule or dashboard needs it. Families in basic may write fewer
// series there (basicShapes).
var familyProfiles = map[string]Profile{
	// Per check: whether it passed, when it ran, how often it should (the
	// stale-check alert), its results and durations (dashboards), and the
	// certificate expiry alerts.
	"vigil_check_up":                          ProfileBasic,
	"vigil_check_last_run_timestamp_seconds":  ProfileBasic,
	"vigil_check_interval_seconds":            ProfileBasic,
	"vigil_check_runs_total":                  ProfileBasic,
	"vigil_check_duration_seconds":            ProfileBasic,
	"vigil_tls_cert_expiry_timestamp_seconds": ProfileBasic,
	// Per feature: what the alerts, recording rules and dashboards read.
	"vigil_feature_up":                       ProfileBasic,
	"vigil_feature_info":                     ProfileBasic,
	"vigil_feature_state":                    ProfileBasic,
	"vigil_feature_flapping":                 ProfileBasic,
	"vigil_outage_active":                    ProfileBasic,
	"vigil_outages_total":                    ProfileBasic,
	"vigil_sla_availability_ratio":           ProfileBasic,
	"vigil_sla_burn_rate":                    ProfileBasic,
	"vigil_sla_error_budget_remaining_ratio": ProfileBasic,

	// Only in full: no shipped rule or dashboard reads them.
	"vigil_check_timeout_seconds":     ProfileFull,
	"vigil_http_content_length_bytes": ProfileFull,
	"vigil_http_redirects":            ProfileFull,
	"vigil_dns_additional_rrs":        ProfileFull,
	"vigil_dns_authority_rrs":         ProfileFull,
	"vigil_tls_cipher_info":           ProfileFull,
}

// familyProfile is the smallest profile family name is in.
func familyProfile(name string) Profile {
	if p, ok := familyProfiles[name]; ok {
		return p
	}
	return ProfileStandard
}

// The shapes of basic's families that write fewer series there than in
// standard:
//   - vigil_check_duration_seconds: the +Inf bucket, _sum and _count only (3
//     series, not 17): rates and mean durations, not quantiles;
//   - vigil_check_runs_total: the results the check has had, success always
//     (a healthy check has one series, not three);
//   - vigil_feature_state: the current state's series alone, at 1 (not six
//     one-hot series); `vigil_feature_state{state="degraded"} == 1` reads the
//     same;
//   - vigil_feature_flapping: only while the feature flaps, at 1 (`unless
//     (vigil_feature_flapping == 1)` and the flapping alert read the same);
//   - vigil_sla_availability_ratio: the windows the rules and dashboards read,
//     30d and slo (not five).
var (
	basicDurationBuckets  = expo.NewBuckets()
	basicAvailabilityKeep = func() (keep [len(sla.FeatureFigures{}.Availability)]bool) {
		for i, name := range sla.AvailabilityWindows() {
			keep[i] = name == "30d" || name == "slo"
		}
		return keep
	}()
)

// SetProfile sets the check's metrics profile (on load and reload).
func (c *CheckMetrics) SetProfile(p Profile) { c.profile.Store(uint32(p.or())) }

// checkProfile is the check's profile; standard until SetProfile.
func (c *CheckMetrics) checkProfile() Profile { return Profile(c.profile.Load()).or() }

// FeatureProfiles is features' metrics profiles by service and feature name.
type FeatureProfiles map[[2]string]Profile

// featureProfiles are what SetProfilesOver was given: the profiles by
// feature, and the profile of the features not among them.
type featureProfiles struct {
	by    FeatureProfiles
	other Profile
}

// SetProfiles sets the features' metrics profiles (on load and reload); a
// feature not in p has the default, standard.
func (s *SLAMetrics) SetProfiles(p FeatureProfiles) { s.SetProfilesOver(ProfileStandard, p) }

// SetProfilesOver is SetProfiles where a feature not in p has profile other.
// Most features have the agent's profile: an entry each would cost about 80
// bytes a feature, kept for as long as the config.
func (s *SLAMetrics) SetProfilesOver(other Profile, p FeatureProfiles) {
	s.profiles.Store(&featureProfiles{by: p, other: other})
}

// profileOf is the profile of the feature spec names.
func (s *SLAMetrics) profileOf(p *featureProfiles, spec *sla.FeatureSpec) Profile {
	if p == nil {
		return ProfileStandard
	}
	if profile, ok := p.by[[2]string{spec.Service, spec.Feature}]; ok {
		return profile.or()
	}
	return p.other.or()
}

// checkFamilyProfiles and featureFamilyProfiles are the smallest profile of
// each of checkFamilies and featureFamilies, by index: the profile filter,
// kept beside the families' lists.
var (
	checkFamilyProfiles   = leastProfiles(checkFamilies, func(f checkFamily) string { return f.Name })
	featureFamilyProfiles = leastProfiles(featureFamilies, func(f featureFamily) string { return f.Name })
)

func leastProfiles[F any](families []F, name func(F) string) []Profile {
	out := make([]Profile, len(families))
	for i, f := range families {
		out[i] = familyProfile(name(f))
	}
	return out
}
