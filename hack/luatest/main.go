// Command luatest runs Argo CD resource-customization Lua scripts (health.lua, discovery.lua,
// action.lua) the way the Argo CD application controller and API server run them: gopher-lua
// (Lua 5.1), only the base, package and table libraries plus a restricted os library (time and
// date), the object handed over as the global `obj` (a Lua table built from the unstructured
// JSON map), a one-second time limit, and the script's returned table encoded back to JSON with
// layeh.com/gopher-json, the encoder Argo CD uses.
//
// It reads one JSON request on stdin, a list of cases:
//
//	[{"mode": "health"|"discovery"|"action", "script": "<lua source>", "object": {...},
//	  "now": "2026-01-02T03:04:05Z", "openLibs": false}, ...]
//
// and writes one JSON list of results on stdout, in the same order:
//
//	{"health": {"status": "...", "message": "..."}}         (mode health)
//	{"actions": [{"name": "...", "disabled": false, ...}]}  (mode discovery, sorted by name)
//	{"object": {...}} or {"resources": [...]}               (mode action: patched object, or new-style list)
//	{"error": "..."}                                         (the script failed or returned the wrong type)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type request struct {
	Mode     string         `json:"mode"`
	Script   string         `json:"script"`
	Object   map[string]any `json:"object"`
	Now      string         `json:"now"`
	OpenLibs bool           `json:"openLibs"`
}

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type action struct {
	Name        string `json:"name"`
	Disabled    bool   `json:"disabled"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type result struct {
	Health    *health          `json:"health,omitempty"`
	Actions   *[]action        `json:"actions,omitempty"`
	Object    map[string]any   `json:"object,omitempty"`
	Resources []map[string]any `json:"resources,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// The health statuses Argo CD accepts from a script; anything else becomes Unknown.
var validHealth = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	var requests []request
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	if err := dec.Decode(&requests); err != nil {
		fmt.Fprintln(os.Stderr, "luatest: reading the request list from stdin:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(requests))
	for _, req := range requests {
		results = append(results, run(req))
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "luatest:", err)
		os.Exit(2)
	}
}

func run(req request) result {
	now := time.Now().UTC()
	if req.Now != "" {
		parsed, err := time.Parse(time.RFC3339, req.Now)
		if err != nil {
			return result{Error: fmt.Sprintf("now: %v", err)}
		}
		now = parsed.UTC()
	}
	object := normalize(req.Object).(map[string]any)
	returned, err := execute(req.Script, object, now, req.OpenLibs)
	if err != nil {
		return result{Error: err.Error()}
	}
	if returned.Type() != lua.LTTable {
		return result{Error: fmt.Sprintf("expect table output from Lua script, not %s", returned.Type())}
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		return result{Error: err.Error()}
	}
	switch req.Mode {
	case "health":
		var hs health
		if err := json.Unmarshal(encoded, &hs); err != nil {
			return result{Error: err.Error()}
		}
		if !validHealth[hs.Status] {
			hs = health{Status: "Unknown", Message: "Lua returned an invalid health status"}
		}
		return result{Health: &hs}
	case "discovery":
		return discovery(encoded)
	case "action":
		return patched(encoded, object)
	}
	return result{Error: fmt.Sprintf("unknown mode %q", req.Mode)}
}

// normalize turns json.Number into int64 or float64, as the Kubernetes unstructured decoder
// hands objects to Argo CD (integers are int64, everything else float64).
func normalize(value any) any {
	switch v := value.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
		return v
	case map[string]any:
		for k := range v {
			v[k] = normalize(v[k])
		}
		return v
	}
	return value
}

func execute(script string, object map[string]any, now time.Time, openLibs bool) (lua.LValue, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer L.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return nil, err
		}
	}
	clock := restrictedOs(now)
	L.SetGlobal(lua.OsLibName, L.SetFuncs(L.NewTable(), clock))
	L.PreloadModule(lua.OsLibName, func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), clock))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, object))
	if err := L.DoString(script); err != nil {
		return nil, err
	}
	return L.Get(-1), nil
}

// toLua converts an unstructured value: JSON arrays become sequences, objects become hash tables.
func toLua(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		arr := L.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(L, item))
		}
		return arr
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(L, item))
		}
		return tbl
	}
	return lua.LNil
}

// restrictedOs is the os library an Argo CD script sees: os.time and os.date only, on a clock
// the caller fixes so expected outputs are reproducible.
func restrictedOs(now time.Time) map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"time": func(L *lua.LState) int {
			if L.GetTop() == 0 {
				L.Push(lua.LNumber(now.Unix()))
				return 1
			}
			tbl := L.CheckTable(1)
			field := func(name string, fallback int) int {
				if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
					return int(n)
				}
				return fallback
			}
			t := time.Date(field("year", 1970), time.Month(field("month", 1)), field("day", 1),
				field("hour", 12), field("min", 0), field("sec", 0), 0, time.UTC)
			L.Push(lua.LNumber(t.Unix()))
			return 1
		},
		"date": func(L *lua.LState) int {
			format := "%c"
			t := now
			if L.GetTop() >= 1 {
				format = L.CheckString(1)
			}
			if L.GetTop() >= 2 {
				t = time.Unix(L.CheckInt64(2), 0).UTC()
			}
			format = strings.TrimPrefix(format, "!")
			L.Push(lua.LString(strftime(t, format)))
			return 1
		},
	}
}

var strftimeLayouts = map[byte]string{
	'a': "Mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'S': "05",
	'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i == len(format)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		if layout, ok := strftimeLayouts[format[i]]; ok {
			b.WriteString(t.Format(layout))
		} else if format[i] == '%' {
			b.WriteByte('%')
		} else {
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

func discovery(encoded []byte) result {
	actions := []action{}
	if bytes.Equal(encoded, []byte("[]")) || bytes.Equal(encoded, []byte("null")) {
		return result{Actions: &actions}
	}
	var table map[string]any
	if err := json.Unmarshal(encoded, &table); err != nil {
		return result{Error: fmt.Sprintf("discovery must return a table of actions keyed by name: %v", err)}
	}
	for name, value := range table {
		a := action{Name: name}
		if fields, ok := value.(map[string]any); ok {
			if disabled, ok := fields["disabled"].(bool); ok {
				a.Disabled = disabled
			}
			a.IconClass, _ = fields["iconClass"].(string)
			a.DisplayName, _ = fields["displayName"].(string)
		}
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return result{Actions: &actions}
}

// patched decodes an action's output: a list (new-style: resources with operations) or the
// modified object (old-style, a patch), whose empty tables that were maps before stay maps.
func patched(encoded []byte, before map[string]any) result {
	trimmed := bytes.TrimSpace(encoded)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var resources []map[string]any
		if err := json.Unmarshal(trimmed, &resources); err != nil {
			return result{Error: err.Error()}
		}
		return result{Resources: resources}
	}
	var after map[string]any
	if err := json.Unmarshal(trimmed, &after); err != nil {
		return result{Error: fmt.Sprintf("Lua output was not a valid json object or array: %v", err)}
	}
	return result{Object: keepMaps(after, before)}
}

// keepMaps undoes the encoder's one ambiguity: an empty Lua table is written as an empty JSON
// array, so a field that was a map before and comes back as [] is the unchanged map.
func keepMaps(after, before map[string]any) map[string]any {
	for key, newValue := range after {
		oldValue, existed := before[key]
		if !existed {
			continue
		}
		switch n := newValue.(type) {
		case map[string]any:
			if o, ok := oldValue.(map[string]any); ok {
				after[key] = keepMaps(n, o)
			}
		case []any:
			switch o := oldValue.(type) {
			case map[string]any:
				if len(n) == 0 {
					after[key] = o
				}
			case []any:
				for i := range n {
					if i >= len(o) {
						break
					}
					nm, okN := n[i].(map[string]any)
					om, okO := o[i].(map[string]any)
					if okN && okO {
						n[i] = keepMaps(nm, om)
					}
				}
			}
		}
	}
	return after
}
