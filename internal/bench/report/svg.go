package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units (pixels).
const (
	svgWidth    = 1080
	svgLabelW   = 110 // init names, right-aligned before the bars
	svgBarW     = 560 // the plot width; the longest median bar takes 80% of it
	svgRowH     = 16
	svgHeadH    = 24
	svgGroupGap = 14
	svgTop      = 64 // title and legend
)

// Bar colours: tinit stands out, peers share one colour, the baseline is
// grey.
const (
	colTinit    = "#d62728"
	colPeer     = "#4c78a8"
	colBaseline = "#b0b0b0"
)

// chartable leaves out metrics that are codes or yes/no flags.
func chartable(m MetricReport) bool { return m.Unit != "code" && m.Unit != "bool" }

// SVG draws one group of horizontal bars per metric: each init's
// median, a whisker from min to max, a dashed line at the best peer's
// median, and tinit's ratio to it. Bars within a group share one linear
// scale, on which the longest median takes 80% of the width, so ratios
// read directly as lengths; a whisker reaching past the plot is cut at its
// edge (an outlier would otherwise squeeze every bar).
func SVG(rep Report) string {
	var groups []MetricReport
	height := svgTop
	for _, m := range rep.Metrics {
		if chartable(m) {
			groups = append(groups, m)
			height += svgHeadH + len(m.Inits)*svgRowH + svgGroupGap
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	svgText(&b, 10, 22, "start", `font-size="16" font-weight="bold"`,
		fmt.Sprintf("tinit benchmark: medians, lower is better (%s, %d CPUs, %s)", rep.Machine.Kernel, rep.Machine.NProc, rep.Machine.Date))
	svgLegend(&b, 10, 44)
	y := svgTop
	for _, m := range groups {
		y = svgGroup(&b, m, y)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func svgLegend(b *strings.Builder, x, y int) {
	items := []struct{ col, label string }{{colTinit, "tinit"}, {colPeer, "peers"}, {colBaseline, "no-init baseline, Go floor"}}
	for _, it := range items {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="10" fill="%s"/>`+"\n", x, y-9, it.col)
		svgText(b, x+16, y, "start", "", it.label)
		x += 30 + 8*len(it.label)
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="1"/>`+"\n", x, y-4, x+20, y-4)
	svgText(b, x+24, y, "start", "", "min to max")
	x += 110
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-dasharray="3,3"/>`+"\n", x+6, y-10, x+6, y+2)
	svgText(b, x+14, y, "start", "", "best peer's median; tinit's bar is labelled with its ratio to it")
}

// svgGroup draws one metric starting at y and returns the next free y.
func svgGroup(b *strings.Builder, m MetricReport, y int) int {
	svgText(b, 10, y+16, "start", `font-weight="bold"`, m.Scenario+": "+m.Label+" ("+m.Unit+")")
	y += svgHeadH
	x0 := float64(10 + svgLabelW)
	scale := groupScale(m.Inits)
	px := func(v float64) float64 { return x0 + min(max(v, 0)/scale, 1)*svgBarW }
	top := y
	for _, is := range m.Inits {
		svgBar(b, m, is, y, px)
		y += svgRowH
	}
	if m.BestPeer != "" {
		for _, is := range m.Inits {
			if is.Init == m.BestPeer {
				fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="3,3"/>`+"\n",
					px(is.Median), top-2, px(is.Median), y)
			}
		}
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>`+"\n", x0, top-2, x0, y)
	return y + svgGroupGap
}

// groupScale is the value at the plot's right edge: the largest median
// plus 25%, or the largest max when every median is zero.
func groupScale(inits []InitSamples) float64 {
	var med, hi float64
	for _, is := range inits {
		med, hi = max(med, is.Median), max(hi, is.Max)
	}
	switch {
	case med > 0:
		return med * 1.25
	case hi > 0:
		return hi
	}
	return 1
}

func svgBar(b *strings.Builder, m MetricReport, is InitSamples, y int, px func(float64) float64) {
	col, weight := colPeer, ""
	switch {
	case is.Init == Tinit:
		col, weight = colTinit, `font-weight="bold"`
	case is.Init == Baseline || is.Init == GoFloor:
		col = colBaseline
	}
	x0 := px(0)
	svgText(b, int(x0)-6, y+11, "end", weight, is.Init)
	fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
		x0, y+2, px(is.Median)-x0, svgRowH-4, col)
	mid := y + svgRowH/2
	fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>`+"\n", px(is.Min), mid, px(is.Max), mid)
	label := strconv.FormatFloat(is.Median, 'f', m.Digits, 64)
	if is.Init == Tinit && m.Ratio != nil {
		label += fmt.Sprintf("  (%.2fx %s)", *m.Ratio, m.BestPeer)
	}
	if is.Init == Tinit && m.Result != "" {
		label += "  " + m.Result + " (" + m.Target + ")"
	}
	svgText(b, int(max(px(is.Max), px(is.Median)))+6, y+11, "start", weight, label)
}

// svgText writes a text element with its content escaped.
func svgText(b *strings.Builder, x, y int, anchor, attrs, text string) {
	var esc bytes.Buffer
	xml.EscapeText(&esc, []byte(text))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, esc.String())
}
