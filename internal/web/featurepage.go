package web

import (
	"cmp"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-monitoring/vigil/sla"
)

// maxFeaturePage bounds ?limit= of /api/v1/features.
const maxFeaturePage = 10000

// featurePage is a page of /api/v1/features: ?limit=N&after=service/feature.
// Without limit every feature is one page, as before paging.
type featurePage struct {
	limit               int // 0: all
	afterSvc, afterFeat string
	after               bool
}

// parseFeaturePage reads limit (1..maxFeaturePage) and after (the "next" of
// the page before: service/feature).
func parseFeaturePage(q url.Values) (featurePage, error) {
	var p featurePage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxFeaturePage {
			return p, fmt.Errorf("limit: %q must be a number from 1 to %d", s, maxFeaturePage)
		}
		p.limit = n
	}
	if s := q.Get("after"); s != "" {
		svc, feat, ok := strings.Cut(s, "/")
		if !ok || svc == "" || feat == "" {
			return p, fmt.Errorf("after: %q must be service/feature, the next of the page before", s)
		}
		p.afterSvc, p.afterFeat, p.after = svc, feat, true
	}
	return p, nil
}

// of cuts the page from features (sorted by service and feature, as the
// engine returns them) and returns the cursor of the next page, "" at the end.
func (p featurePage) of(features []sla.FeatureStatus) ([]sla.FeatureStatus, string) {
	if p.after {
		i := sort.Search(len(features), func(i int) bool {
			f := &features[i]
			return cmp.Or(strings.Compare(f.Service, p.afterSvc), strings.Compare(f.Feature, p.afterFeat)) > 0
		})
		features = features[i:]
	}
	if p.limit == 0 || len(features) <= p.limit {
		return features, ""
	}
	last := &features[p.limit-1]
	return features[:p.limit], last.Service + "/" + last.Feature
}
