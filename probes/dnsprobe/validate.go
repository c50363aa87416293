package dnsprobe

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// regexpList is one option of an RRValidator with its key, for errors.
type regexpList struct {
	key     string
	regexps []probeconfig.Regexp
}

func (v *RRValidator) lists() [4]regexpList {
	return [4]regexpList{
		{"fail_if_matches_regexp", v.FailIfMatchesRegexp},
		{"fail_if_all_match_regexp", v.FailIfAllMatchRegexp},
		{"fail_if_not_matches_regexp", v.FailIfNotMatchesRegexp},
		{"fail_if_none_matches_regexp", v.FailIfNoneMatchesRegexp},
	}
}

// rcodeName is the rcode's mnemonic, or RCODEn for one miekg/dns does not name.
func rcodeName(rcode int) string {
	if name, ok := dns.RcodeToString[rcode]; ok {
		return name
	}
	return fmt.Sprintf("RCODE%d", rcode)
}

// checkRcode fails an answer whose rcode is not among valid_rcodes.
func (p *plan) checkRcode(rcode int) error {
	if slices.Contains(p.validRcodes, rcode) {
		return nil
	}
	return fmt.Errorf("rcode %s not in valid_rcodes %s", rcodeName(rcode), p.validRcodeText)
}

// checkRRs applies s's validator to the RRs of its section with
// blackbox_exporter's semantics and says why they fail, or returns nil. Each RR
// is turned into text once, and only when some regexp needs it.
func (s sectionCheck) checkRRs(rrs []dns.RR) error {
	v := s.v
	if v.empty() {
		return nil
	}
	key := "validate_" + s.name + "_rrs."
	if len(rrs) == 0 {
		// Blackbox_exporter fails these on an empty section: a required match
		// cannot happen, and "all RRs match" holds vacuously.
		for _, list := range [3]regexpList{
			{"fail_if_not_matches_regexp", v.FailIfNotMatchesRegexp},
			{"fail_if_none_matches_regexp", v.FailIfNoneMatchesRegexp},
			{"fail_if_all_match_regexp", v.FailIfAllMatchRegexp},
		} {
			if len(list.regexps) > 0 {
				return fmt.Errorf("no %s RRs, and %s%s is set", s.name, key, list.key)
			}
		}
		return nil
	}

	texts := make([]string, len(rrs))
	for i, rr := range rrs {
		texts[i] = rr.String()
	}
	for _, text := range texts {
		for _, re := range v.FailIfMatchesRegexp {
			if re.MatchString(text) {
				return fmt.Errorf("%s RR %q matches %sfail_if_matches_regexp %q", s.name, text, key, re.String())
			}
		}
		for _, re := range v.FailIfNotMatchesRegexp {
			if !re.MatchString(text) {
				return fmt.Errorf("%s RR %q does not match %sfail_if_not_matches_regexp %q", s.name, text, key, re.String())
			}
		}
	}
	if len(v.FailIfAllMatchRegexp) > 0 && allMatch(texts, v.FailIfAllMatchRegexp) {
		return fmt.Errorf("all %d %s RRs match every %sfail_if_all_match_regexp", len(texts), s.name, key)
	}
	if len(v.FailIfNoneMatchesRegexp) > 0 && !anyMatches(texts, v.FailIfNoneMatchesRegexp) {
		return fmt.Errorf("none of the %d %s RRs matches any %sfail_if_none_matches_regexp", len(texts), s.name, key)
	}
	return nil
}

// allMatch says whether every text matches every regexp.
func allMatch(texts []string, regexps []probeconfig.Regexp) bool {
	for _, text := range texts {
		for _, re := range regexps {
			if !re.MatchString(text) {
				return false
			}
		}
	}
	return true
}

// anyMatches says whether some text matches some regexp.
func anyMatches(texts []string, regexps []probeconfig.Regexp) bool {
	for _, text := range texts {
		for _, re := range regexps {
			if re.MatchString(text) {
				return true
			}
		}
	}
	return false
}
