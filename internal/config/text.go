package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// Text is a title in one or more languages. In YAML it is a plain string
// (`title: Messages`) or a mapping of BCP 47 language tags to strings
// (`title: {en: Messages, ko: 메시지}`).
type Text struct {
	// Default is the plain string; of a mapping, its English text, else the
	// first one written. It is what every consumer that shows one language
	// (metrics, reports, the API) uses.
	Default string
	// ByLang holds a mapping's texts by canonical language tag ("en",
	// "ko"); nil for a plain string.
	ByLang map[string]string
}

// UnmarshalYAML reads a plain string or a mapping of language tags to
// non-empty strings.
func (t *Text) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		var s string
		if err := node.Decode(&s); err != nil {
			return err
		}
		*t = Text{Default: s}
		return nil
	case yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: must be a string or a mapping of languages to strings, e.g. {en: Messages, ko: 메시지}", node.Line)
	}
	out := Text{ByLang: make(map[string]string, len(node.Content)/2)}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		tag, err := language.Parse(k.Value)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a language tag like en or ko: %v", k.Line, k.Value, err)
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
			return fmt.Errorf("line %d: the %s text must be a non-empty string", v.Line, k.Value)
		}
		lang := tag.String()
		if _, dup := out.ByLang[lang]; dup {
			return fmt.Errorf("line %d: language %s is given twice", k.Line, lang)
		}
		out.ByLang[lang] = v.Value
		if out.Default == "" || lang == "en" {
			out.Default = v.Value
		}
	}
	if len(out.ByLang) == 0 {
		return fmt.Errorf("line %d: an empty mapping: give a string or at least one language", node.Line)
	}
	*t = out
	return nil
}

// In is the text in lang: the exact tag, else its base language ("ko" for
// "ko-KR"), else another tag of that language ("ko-KR" for "ko"), else
// Default.
func (t Text) In(lang string) string {
	if s, ok := t.ByLang[lang]; ok {
		return s
	}
	base, _ := language.Make(lang).Base()
	if s, ok := t.ByLang[base.String()]; ok {
		return s
	}
	tags := slices.Sorted(maps.Keys(t.ByLang))
	for _, tag := range tags {
		if b, _ := language.Make(tag).Base(); b == base {
			return t.ByLang[tag]
		}
	}
	return t.Default
}

// String is Default.
func (t Text) String() string { return t.Default }

// IsZero reports whether no text is set (for omitempty and omitzero).
func (t Text) IsZero() bool { return t.Default == "" && len(t.ByLang) == 0 }

// MarshalYAML writes the text as it can be read back.
func (t Text) MarshalYAML() (any, error) {
	if t.ByLang == nil {
		return t.Default, nil
	}
	return t.ByLang, nil
}

// MarshalJSON writes a plain string, or an object of languages to texts.
func (t Text) MarshalJSON() ([]byte, error) {
	if t.ByLang == nil {
		return json.Marshal(t.Default)
	}
	return json.Marshal(t.ByLang)
}
