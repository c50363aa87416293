package journeyprobe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/theory/jsonpath"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// extractor is one Extract compiled.
type extractor struct {
	name   string
	secret bool
	source string // "json", "header", "cookie" or "body"
	path   *jsonpath.Path
	key    string // header (canonical) or cookie name
	re     *regexp.Regexp
	// describe names the source for errors: `json "$.token"`, `header Location`.
	describe string
}

// extractKinds are the step kinds whose runs capture content: http (body,
// headers, cookies) and messaging with await (the payload).
var extractKinds = map[string]bool{"http": true, "messaging": true}

func compileExtract(x Extract, kind string) (extractor, error) {
	var errs []error
	ex := extractor{name: x.Var, secret: x.Secret, source: "body", describe: "body"}
	switch {
	case x.Var == "":
		errs = append(errs, probeconfig.Errorf("var", "required: the variable to set"))
	case strings.HasPrefix(x.Var, "run.") || !varNameRe.MatchString(x.Var):
		errs = append(errs, probeconfig.Errorf("var", "variable name %q must be letters, digits and _ (not starting with a digit; run.* are builtins)", x.Var))
	}
	sources := 0
	if x.JSON != "" {
		sources++
		p, err := jsonpath.Parse(x.JSON)
		if err != nil {
			errs = append(errs, probeconfig.Errorf("json", "bad JSONPath %q: %v", x.JSON, err))
		}
		ex.source, ex.path, ex.describe = "json", p, fmt.Sprintf("json %q", x.JSON)
	}
	if x.Header != "" {
		sources++
		ex.source, ex.key, ex.describe = "header", textproto.CanonicalMIMEHeaderKey(x.Header), "header "+x.Header
	}
	if x.Cookie != "" {
		sources++
		ex.source, ex.key, ex.describe = "cookie", x.Cookie, "cookie "+x.Cookie
	}
	if sources > 1 {
		errs = append(errs, probeconfig.Errorf("", "set one of json, header and cookie (regexp may go with any)"))
	}
	if x.Regexp != "" {
		re, err := regexp.Compile(x.Regexp)
		if err != nil {
			errs = append(errs, probeconfig.Errorf("regexp", "bad regexp %q: %v", x.Regexp, err))
		}
		ex.re = re
		if sources == 0 {
			ex.describe = fmt.Sprintf("body regexp %q", x.Regexp)
		} else {
			ex.describe += fmt.Sprintf(" regexp %q", x.Regexp)
		}
	} else if sources == 0 {
		errs = append(errs, probeconfig.Errorf("", "needs json, header, cookie or regexp: where the value is"))
	}
	if kind != "" && !extractKinds[kind] {
		errs = append(errs, probeconfig.Errorf("", "a %s step has nothing to extract from: extract works on http and messaging (await) steps", kind))
	}
	if (ex.source == "header" || ex.source == "cookie") && kind == "messaging" {
		errs = append(errs, probeconfig.Errorf(ex.source, "a messaging step has no %ss: extract from its payload with json or regexp", ex.source))
	}
	return ex, errors.Join(errs...)
}

// extract takes the variable's value from what the run captured.
func (ex *extractor) extract(c *probes.Captured) (string, error) {
	if c == nil {
		return "", fmt.Errorf("extract %s: the step kept nothing to extract from", ex.name)
	}
	var value string
	switch ex.source {
	case "header":
		values := textproto.MIMEHeader(c.Header)[ex.key]
		if len(values) == 0 {
			return "", fmt.Errorf("extract %s: no %s in the response", ex.name, ex.describe)
		}
		value = values[0]
	case "cookie":
		v, ok := c.Cookies[ex.key]
		if !ok {
			return "", fmt.Errorf("extract %s: no %s set by the response", ex.name, ex.describe)
		}
		value = v
	case "json":
		var doc any
		dec := json.NewDecoder(bytes.NewReader(c.Body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return "", fmt.Errorf("extract %s: the body is not JSON: %v", ex.name, err)
		}
		nodes := ex.path.Select(doc)
		if len(nodes) == 0 {
			return "", fmt.Errorf("extract %s: %s matched nothing", ex.name, ex.describe)
		}
		value = jsonText(nodes[0])
	default:
		value = string(c.Body)
	}
	if ex.re != nil {
		m := ex.re.FindStringSubmatch(value)
		if m == nil {
			return "", fmt.Errorf("extract %s: %s matched nothing", ex.name, ex.describe)
		}
		value = m[0]
		if len(m) > 1 {
			value = m[1]
		}
	}
	return value, nil
}

// jsonText is a selected JSON value as a variable: a string as it is, any
// other value as compact JSON (a number as written).
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
