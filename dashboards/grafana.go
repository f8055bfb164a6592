package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Dashboard is the part of a Grafana dashboard model that logsys checks.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is one dashboard panel; rows carry their collapsed panels.
type Panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	GridPos *GridPos `json:"gridPos"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one Prometheus query of a panel.
type Target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// Parse decodes a dashboard and checks that Grafana can load it and that
// every panel queries something.
func Parse(data []byte) (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return Dashboard{}, fmt.Errorf("parse: %w", err)
	}
	if err := d.Validate(); err != nil {
		return Dashboard{}, err
	}
	return d, nil
}

// Validate reports every defect: a missing uid or title, no panels, and for
// each panel a missing or duplicate id, a missing title or grid position, a
// grid position off the 24-column grid, or no query.
func (d Dashboard) Validate() error {
	var errs []error
	if d.UID == "" {
		errs = append(errs, errors.New("uid is empty"))
	}
	if len(d.UID) > 40 {
		errs = append(errs, fmt.Errorf("uid %q is longer than 40 characters", d.UID))
	}
	if d.Title == "" {
		errs = append(errs, errors.New("title is empty"))
	}
	panels := d.allPanels()
	if len(panels) == 0 {
		errs = append(errs, errors.New("no panels"))
	}
	seen := map[int]bool{}
	for _, p := range panels {
		errs = append(errs, p.validate(seen)...)
	}
	return errors.Join(errs...)
}

func (p Panel) validate(seen map[int]bool) []error {
	var errs []error
	name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
	switch {
	case p.ID <= 0:
		errs = append(errs, fmt.Errorf("%s: id must be positive", name))
	case seen[p.ID]:
		errs = append(errs, fmt.Errorf("%s: duplicate id", name))
	}
	seen[p.ID] = true
	if p.Title == "" {
		errs = append(errs, fmt.Errorf("%s: title is empty", name))
	}
	if g := p.GridPos; g == nil {
		errs = append(errs, fmt.Errorf("%s: no gridPos", name))
	} else if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
		errs = append(errs, fmt.Errorf("%s: gridPos %+v is off the 24-column grid", name, *g))
	}
	if p.Type == "row" {
		return errs
	}
	if len(p.Targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: no targets", name))
	}
	refs := map[string]bool{}
	for _, t := range p.Targets {
		if t.Expr == "" {
			errs = append(errs, fmt.Errorf("%s: target %q has no expr", name, t.RefID))
		}
		if t.RefID == "" || refs[t.RefID] {
			errs = append(errs, fmt.Errorf("%s: target refId %q is empty or repeated", name, t.RefID))
		}
		refs[t.RefID] = true
	}
	return errs
}

// allPanels flattens rows into the panels they hold.
func (d Dashboard) allPanels() []Panel {
	var out []Panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// Exprs returns every query of the dashboard: panel targets and query
// variables.
func (d Dashboard) Exprs() []string {
	var out []string
	for _, p := range d.allPanels() {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" || len(v.Query) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(v.Query, &s) == nil {
			out = append(out, s)
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
			out = append(out, q.Query)
		}
	}
	return out
}
