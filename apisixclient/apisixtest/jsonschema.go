package apisixtest

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// schema is the subset of JSON Schema draft 4/7 that APISIX's schema_def.lua
// uses. validate reports the first failure with the message templates of
// api7/jsonschema (github.com/api7/jsonschema), which is what APISIX puts in error_msg.
//
// Properties are visited in sorted order. APISIX visits them in Lua hash
// order, which is implementation-defined, so only single-fault
// bodies have exact, portable messages.
type schema struct {
	Type              any                `json:"type,omitempty"`
	Properties        map[string]*schema `json:"properties,omitempty"`
	Required          []string           `json:"required,omitempty"`
	AdditionalProps   *bool              `json:"additionalProperties,omitempty"`
	PatternProperties map[string]*schema `json:"patternProperties,omitempty"`
	MinProperties     *int               `json:"minProperties,omitempty"`
	MaxProperties     *int               `json:"maxProperties,omitempty"`
	Dependencies      map[string]any     `json:"dependencies,omitempty"` // []any of names, or *schema
	Items             *schema            `json:"items,omitempty"`
	MinItems          *int               `json:"minItems,omitempty"`
	MaxItems          *int               `json:"maxItems,omitempty"`
	UniqueItems       bool               `json:"uniqueItems,omitempty"`
	MinLength         *int               `json:"minLength,omitempty"`
	MaxLength         *int               `json:"maxLength,omitempty"`
	Pattern           string             `json:"pattern,omitempty"`
	Minimum           *float64           `json:"minimum,omitempty"`
	Maximum           *float64           `json:"maximum,omitempty"`
	ExclusiveMinimum  *float64           `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum  *float64           `json:"exclusiveMaximum,omitempty"`
	Enum              []any              `json:"enum,omitempty"`
	AllOf             []*schema          `json:"allOf,omitempty"`
	AnyOf             []*schema          `json:"anyOf,omitempty"`
	OneOf             []*schema          `json:"oneOf,omitempty"`
	Not               *schema            `json:"not,omitempty"`
	If                *schema            `json:"if,omitempty"`
	Then              *schema            `json:"then,omitempty"`
	Else              *schema            `json:"else,omitempty"`
	Default           any                `json:"default,omitempty"`
}

// applyDefaults stores the schema's defaults into v where a property is
// missing, as api7/jsonschema does while it validates (APISIX 3.2-3.13
// then kept them: the Admin API wrote the checked conf to etcd).
func (s *schema) applyDefaults(v any) {
	if s == nil {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(s.Properties) {
			ps := s.Properties[k]
			if cur, ok := x[k]; ok {
				ps.applyDefaults(cur)
			} else if ps.Default != nil {
				x[k] = deepCopy(ps.Default)
			}
		}
		for _, sub := range s.AllOf {
			sub.applyDefaults(v)
		}
	case []any:
		for _, it := range x {
			s.Items.applyDefaults(it)
		}
	}
}

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

func compile(pat string) *regexp.Regexp {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[pat]; ok {
		return re
	}
	re := regexp.MustCompile(pat)
	reCache[pat] = re
	return re
}

func mustSchema(src string) *schema {
	var s schema
	d := json.NewDecoder(strings.NewReader(src))
	d.UseNumber()
	if err := d.Decode(&s); err != nil {
		panic("apisixtest: bad built-in schema: " + err.Error() + "\n" + src)
	}
	s.resolveDependencies()
	return &s
}

// resolveDependencies turns schema-valued dependencies (decoded as maps)
// into *schema, everywhere in the tree.
func (s *schema) resolveDependencies() {
	if s == nil {
		return
	}
	for k, d := range s.Dependencies {
		if m, ok := d.(map[string]any); ok {
			b, _ := json.Marshal(m)
			s.Dependencies[k] = mustSchema(string(b))
		}
	}
	for _, p := range s.Properties {
		p.resolveDependencies()
	}
	for _, p := range s.PatternProperties {
		p.resolveDependencies()
	}
	for _, list := range [][]*schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, p := range list {
			p.resolveDependencies()
		}
	}
	for _, p := range []*schema{s.Items, s.Not, s.If, s.Then, s.Else} {
		p.resolveDependencies()
	}
}

// luaType names a decoded JSON value as Lua (and so api7/jsonschema) sees it.
func luaType(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return "table"
	case string:
		return "string"
	case json.Number, float64, int, int64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "userdata"
	}
	return fmt.Sprintf("%T", v)
}

func num(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func typeOK(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := num(v)
		return ok
	case "integer":
		f, ok := num(v)
		return ok && f == math.Trunc(f)
	case "null":
		return v == nil
	}
	return false
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func equalJSON(a, b any) bool {
	fa, oka := num(a)
	fb, okb := num(b)
	if oka && okb {
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// validate returns "" when v conforms to s, else api7/jsonschema's message.
func (s *schema) validate(v any) string {
	if s == nil {
		return ""
	}
	if s.Type != nil {
		var types []string
		switch t := s.Type.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, fmt.Sprint(x))
			}
		}
		ok := false
		for _, t := range types {
			if typeOK(t, v) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Sprintf("wrong type: expected %s, got %s", strings.Join(types, " or "), luaType(v))
		}
	}
	if obj, ok := v.(map[string]any); ok {
		if msg := s.validateObject(obj); msg != "" {
			return msg
		}
	}
	if arr, ok := v.([]any); ok {
		if s.MinItems != nil && len(arr) < *s.MinItems {
			return fmt.Sprintf("expect array to have at least %d items", *s.MinItems)
		}
		if s.MaxItems != nil && len(arr) > *s.MaxItems {
			return fmt.Sprintf("expect array to have at most %d items", *s.MaxItems)
		}
		if s.Items != nil {
			for i, it := range arr {
				if msg := s.Items.validate(it); msg != "" {
					return fmt.Sprintf("failed to validate item %d: %s", i+1, msg)
				}
			}
		}
		if s.UniqueItems {
			for i := range arr {
				for j := i + 1; j < len(arr); j++ {
					if equalJSON(arr[i], arr[j]) {
						return fmt.Sprintf("expected unique items but items %d and %d are equal", i+1, j+1)
					}
				}
			}
		}
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength {
			return fmt.Sprintf("string too short, expected at least %d, got %d", *s.MinLength, n)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			return fmt.Sprintf("string too long, expected at most %d, got %d", *s.MaxLength, n)
		}
		if s.Pattern != "" && !compile(s.Pattern).MatchString(str) {
			return fmt.Sprintf("failed to match pattern %q with %q", s.Pattern, str)
		}
	}
	if f, ok := num(v); ok {
		if s.Minimum != nil && f < *s.Minimum {
			return fmt.Sprintf("expected %s to be at least %s", fmtNum(f), fmtNum(*s.Minimum))
		}
		if s.Maximum != nil && f > *s.Maximum {
			return fmt.Sprintf("expected %s to be at most %s", fmtNum(f), fmtNum(*s.Maximum))
		}
		if s.ExclusiveMinimum != nil && f <= *s.ExclusiveMinimum {
			return fmt.Sprintf("expected %s to be greater than %s", fmtNum(f), fmtNum(*s.ExclusiveMinimum))
		}
		if s.ExclusiveMaximum != nil && f >= *s.ExclusiveMaximum {
			return fmt.Sprintf("expected %s to be smaller than %s", fmtNum(f), fmtNum(*s.ExclusiveMaximum))
		}
	}
	if s.Enum != nil {
		found := false
		for _, e := range s.Enum {
			if equalJSON(e, v) {
				found = true
				break
			}
		}
		if !found {
			return "matches none of the enum values"
		}
	}
	for i, sub := range s.AllOf {
		if msg := sub.validate(v); msg != "" {
			return fmt.Sprintf("allOf %d failed: %s", i+1, msg)
		}
	}
	if len(s.AnyOf) > 0 {
		matched := false
		var reqs []string
		for _, sub := range s.AnyOf {
			if sub.validate(v) == "" {
				matched = true
				break
			}
			if len(sub.Required) > 0 {
				reqs = append(reqs, jsonText(sub.Required))
			}
		}
		if !matched {
			msg := "object matches none of the required"
			if len(reqs) > 0 {
				msg += ": " + strings.Join(reqs, " or ")
			}
			return msg
		}
	}
	if len(s.OneOf) > 0 {
		var hits []int
		for i, sub := range s.OneOf {
			if sub.validate(v) == "" {
				hits = append(hits, i+1)
			}
		}
		switch {
		case len(hits) == 0:
			return "value should match only one schema, but matches none"
		case len(hits) > 1:
			return fmt.Sprintf("value should match only one schema, but matches both schemas %d and %d", hits[0], hits[1])
		}
	}
	if s.If != nil {
		if s.If.validate(v) == "" {
			if s.Then != nil && s.Then.validate(v) != "" {
				return "then clause did not match"
			}
		} else if s.Else != nil && s.Else.validate(v) != "" {
			return "else clause did not match"
		}
	}
	if s.Not != nil && s.Not.validate(v) == "" {
		return "value wasn't supposed to match schema"
	}
	return ""
}

func (s *schema) validateObject(obj map[string]any) string {
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		pv, ok := obj[k]
		if !ok {
			continue
		}
		if msg := s.Properties[k].validate(pv); msg != "" {
			return fmt.Sprintf("property %q validation failed: %s", k, msg)
		}
		if dep, ok := s.Dependencies[k]; ok {
			switch d := dep.(type) {
			case []any:
				for _, r := range d {
					if _, ok := obj[fmt.Sprint(r)]; !ok {
						return fmt.Sprintf("property %q is required when %q is set", fmt.Sprint(r), k)
					}
				}
			case *schema:
				if msg := d.validate(obj); msg != "" {
					return fmt.Sprintf("failed to validate dependent schema for %q: %s", k, msg)
				}
			}
		}
	}
	for _, r := range s.Required {
		if _, ok := obj[r]; !ok {
			return fmt.Sprintf("property %q is required", r)
		}
	}
	// Dependencies of keys not declared in properties come after required,
	// as in api7/jsonschema's generated validator.
	for _, k := range sortedKeys(s.Dependencies) {
		if _, declared := s.Properties[k]; declared {
			continue
		}
		if _, ok := obj[k]; !ok {
			continue
		}
		switch d := s.Dependencies[k].(type) {
		case []any:
			for _, r := range d {
				if _, ok := obj[fmt.Sprint(r)]; !ok {
					return fmt.Sprintf("property %q is required when %q is set", fmt.Sprint(r), k)
				}
			}
		case *schema:
			if msg := d.validate(obj); msg != "" {
				return fmt.Sprintf("failed to validate dependent schema for %q: %s", k, msg)
			}
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pats := make([]string, 0, len(s.PatternProperties))
	for p := range s.PatternProperties {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	for _, k := range keys {
		_, known := s.Properties[k]
		for _, p := range pats {
			if compile(p).MatchString(k) {
				known = true
				if msg := s.PatternProperties[p].validate(obj[k]); msg != "" {
					return fmt.Sprintf("failed to validate %s (matching %q): %s", k, p, msg)
				}
			}
		}
		if !known && s.AdditionalProps != nil && !*s.AdditionalProps {
			return "additional properties forbidden, found " + k
		}
	}
	if s.MinProperties != nil && len(obj) < *s.MinProperties {
		return fmt.Sprintf("expect object to have at least %d properties", *s.MinProperties)
	}
	if s.MaxProperties != nil && len(obj) > *s.MaxProperties {
		return fmt.Sprintf("expect object to have at most %d properties", *s.MaxProperties)
	}
	return ""
}
