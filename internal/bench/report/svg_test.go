package report

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSVGWellFormed(t *testing.T) {
	tests := []struct {
		name      string
		rep       Report
		wantRects int // background + legend (3) + one bar per init and metric
	}{
		{name: "fixture", rep: fixtureReport(), wantRects: 1 + 3 + 2 + 2 + 3},
		{name: "no metrics", rep: Build(Input{Config: fixtureConfig(), Metrics: fixtureMetrics, Results: NewResults()}), wantRects: 1 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := SVG(tt.rep)
			root, rects, err := parseXML(svg)
			if err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			if root != "svg" {
				t.Errorf("root element %q, want svg", root)
			}
			if rects != tt.wantRects {
				t.Errorf("%d rect elements, want %d", rects, tt.wantRects)
			}
		})
	}
}

// parseXML decodes every token and returns the root element's name and
// the number of rect elements.
func parseXML(s string) (root string, rects int, err error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root, rects, nil
		}
		if err != nil {
			return root, rects, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "rect" {
				rects++
			}
		}
	}
}
