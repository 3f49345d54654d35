package report

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

var metricHeader = []string{"metric", "unit", "init", "n", "min", "median", "max", "ratio", "target", "result"}

// metricRows is the main table: one row per metric and init, with tinit's
// ratio to the best peer, the target and the verdict on tinit's row.
func metricRows(rep Report) [][]string {
	var rows [][]string
	for _, m := range rep.Metrics {
		for i, is := range m.Inits {
			label := ""
			if i == 0 {
				label = m.Scenario + ": " + m.Label
			}
			f := func(v float64) string { return strconv.FormatFloat(v, 'f', m.Digits, 64) }
			row := []string{label, m.Unit, is.Init, strconv.Itoa(is.N), f(is.Min), f(is.Median), f(is.Max), "", "", ""}
			if is.Init == Tinit {
				row[7], row[8], row[9] = ratioText(m.evaluation), m.Target, m.Result
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// ratioText is "1.23 (vs tini)" or empty.
func ratioText(ev evaluation) string {
	if ev.Ratio == nil {
		return ""
	}
	return fmt.Sprintf("%.2f (vs %s)", *ev.Ratio, ev.BestPeer)
}

func exitCodeRows(rep Report) (header []string, rows [][]string) {
	header = append([]string{"init"}, rep.ExitCases...)
	for _, r := range rep.ExitCodes {
		rows = append(rows, append([]string{r.Init}, r.Codes...))
	}
	return header, rows
}

// alignText renders rows under header with columns padded to width.
func alignText(header []string, rows [][]string) string {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(r []string) {
		for i, c := range r {
			pad := widths[i] - utf8.RuneCountInString(c)
			if i == len(r)-1 {
				pad = 0
			}
			b.WriteString(c + strings.Repeat(" ", pad))
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i, w := range widths {
		sep[i] = strings.Repeat("-", w)
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

// markdownTable renders rows as a GitHub-flavoured Markdown table.
func markdownTable(header []string, rows [][]string) string {
	var b strings.Builder
	cells := func(r []string) {
		b.WriteString("| " + strings.Join(escapeCells(r), " | ") + " |\n")
	}
	cells(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	cells(sep)
	for _, r := range rows {
		cells(r)
	}
	return b.String()
}

func escapeCells(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}

// preamble describes the machine and the run.
func preamble(rep Report) []string {
	m := rep.Machine
	lines := []string{
		fmt.Sprintf("%s, kernel %s, %d CPUs, %s, %s", m.CPU, m.Kernel, m.NProc, m.GoVersion, m.Date),
		fmt.Sprintf("%s; %.0f s", rep.Params, rep.Seconds),
	}
	var vs []string
	for _, in := range rep.Inits {
		if in.Version != "" {
			vs = append(vs, fmt.Sprintf("%s = %s", in.Name, in.Version))
		}
	}
	lines = append(lines, "versions: "+strings.Join(vs, "; "))
	if len(rep.Missing) > 0 {
		lines = append(lines, "missing (not measured): "+strings.Join(rep.Missing, ", "))
	}
	return lines
}

// verdicts counts tinit's PASS and MISS results.
func verdicts(rep Report) string {
	var pass, miss []string
	for _, m := range rep.Metrics {
		switch m.Result {
		case resultPass:
			pass = append(pass, m.Key)
		case resultMiss:
			miss = append(miss, m.Key)
		}
	}
	s := fmt.Sprintf("targets: %d PASS, %d MISS", len(pass), len(miss))
	if len(miss) > 0 {
		s += " (" + strings.Join(miss, ", ") + ")"
	}
	return s
}

// style is how Text and Markdown differ.
type style struct {
	title      string // before everything
	lineEnd    string // of a preamble line
	table      func(header []string, rows [][]string) string
	exitTitle  string
	notes, err string // list titles
	bullet     string
}

var (
	textStyle     = style{lineEnd: "\n", table: alignText, exitTitle: "\nexit codes (informational)\n", notes: "notes", err: "errors", bullet: "  "}
	markdownStyle = style{title: "# tinit benchmark\n\n", lineEnd: "  \n", table: markdownTable, exitTitle: "\nExit codes (informational)\n\n", notes: "Notes", err: "Errors", bullet: "- "}
)

// Text is what the harness prints on stdout.
func Text(rep Report) string { return render(rep, textStyle) }

// Markdown is latest.md: the same tables, for the README.
func Markdown(rep Report) string { return render(rep, markdownStyle) }

func render(rep Report, st style) string {
	var b strings.Builder
	b.WriteString(st.title)
	for _, l := range preamble(rep) {
		b.WriteString(l + st.lineEnd)
	}
	b.WriteString("\n" + st.table(metricHeader, metricRows(rep)))
	if len(rep.ExitCodes) > 0 {
		h, rows := exitCodeRows(rep)
		b.WriteString(st.exitTitle + st.table(h, rows))
	}
	writeList(&b, st.notes, rep.Notes, st.bullet)
	writeList(&b, st.err, rep.Errors, st.bullet)
	b.WriteString("\n" + verdicts(rep) + "\n")
	return b.String()
}

func writeList(b *strings.Builder, title string, items []string, bullet string) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n" + title + ":\n")
	if strings.HasPrefix(bullet, "-") {
		b.WriteString("\n") // Markdown needs a blank line before a list
	}
	for _, it := range items {
		b.WriteString(bullet + it + "\n")
	}
}
