// querylint parses dashboard queries with the parsers Prometheus and Loki themselves use, and
// says what each query reads, so a test can compare that with what the services expose.
//
// Input, one JSON object per line: {"lang": "promql"|"logql", "expr": "..."}, with Grafana's
// variables already replaced. Output, one line per input line:
//
//	{"error": "..."}                                   the query does not parse
//	{"selectors": [{"name": "m", "labels": ["a"]}],    PromQL: every series selector, its metric
//	 "grouping": ["source"]}                           name and the label names it matches on;
//	                                                   labels of by/without/on/ignoring clauses
//	{"stream_labels": ["job", "source"],               LogQL: label names of stream selectors,
//	 "grouping": ["etat"], "parsers": true}            aggregation groupings, and whether a
//	                                                   parser stage (| json, | logfmt...) runs
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"

	"github.com/grafana/loki/v3/pkg/logql/syntax"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type query struct {
	Lang string `json:"lang"`
	Expr string `json:"expr"`
}

type selector struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

type result struct {
	Error        string     `json:"error,omitempty"`
	Selectors    []selector `json:"selectors,omitempty"`
	StreamLabels []string   `json:"stream_labels,omitempty"`
	Grouping     []string   `json:"grouping,omitempty"`
	Parsers      bool       `json:"parsers,omitempty"`
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func promql(expr string) result {
	root, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return result{Error: err.Error()}
	}
	var r result
	grouping := map[string]bool{}
	parser.Inspect(root, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			s := selector{Name: n.Name}
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					s.Name = m.Value
				} else {
					s.Labels = append(s.Labels, m.Name)
				}
			}
			r.Selectors = append(r.Selectors, s)
		case *parser.AggregateExpr:
			for _, g := range n.Grouping {
				grouping[g] = true
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, g := range n.VectorMatching.MatchingLabels {
					grouping[g] = true
				}
			}
		}
		return nil
	})
	r.Grouping = sorted(grouping)
	return r
}

func logql(expr string) result {
	root, err := syntax.ParseExpr(expr)
	if err != nil {
		return result{Error: err.Error()}
	}
	var r result
	stream, grouping := map[string]bool{}, map[string]bool{}
	root.Walk(func(e syntax.Expr) bool {
		switch n := e.(type) {
		case *syntax.MatchersExpr:
			for _, m := range n.Mts {
				stream[m.Name] = true
			}
		case *syntax.VectorAggregationExpr:
			if n.Grouping != nil {
				for _, g := range n.Grouping.Groups {
					grouping[g] = true
				}
			}
		case *syntax.RangeAggregationExpr:
			if n.Grouping != nil {
				for _, g := range n.Grouping.Groups {
					grouping[g] = true
				}
			}
		case *syntax.LineParserExpr, *syntax.LogfmtParserExpr, *syntax.JSONExpressionParserExpr,
			*syntax.LogfmtExpressionParserExpr:
			r.Parsers = true
		}
		return true
	})
	r.StreamLabels, r.Grouping = sorted(stream), sorted(grouping)
	return r
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q query
		var r result
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			r = result{Error: "bad input line: " + err.Error()}
		} else if q.Lang == "promql" {
			r = promql(q.Expr)
		} else if q.Lang == "logql" {
			r = logql(q.Expr)
		} else {
			r = result{Error: "lang must be promql or logql"}
		}
		if err := out.Encode(r); err != nil {
			os.Exit(1)
		}
	}
	if in.Err() != nil {
		os.Exit(1)
	}
}
