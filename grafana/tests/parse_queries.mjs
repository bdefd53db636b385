// Parses dashboard queries with the grammars Grafana's own query editors use (npm's
// @grafana/lezer-logql for Loki, @prometheus-io/lezer-promql for Prometheus), and says what
// each query reads, so check_dashboards.py can compare that with what the services expose.
//
//   node parse_queries.mjs < QUERIES
//
// Input, one JSON object per line: {"lang": "promql"|"logql", "expr": "..."}, with Grafana's
// variables already replaced. Output, one line per input line:
//
//   {"error": "..."}                                   the query does not parse
//   {"selectors": [{"name": "m", "labels": ["a"]}],    PromQL: every series selector, its metric
//    "grouping": ["source"]}                           name and the label names it matches on;
//                                                      labels of by/without/on/ignoring clauses
//   {"stream_labels": ["job", "source"],               LogQL: label names of stream selectors,
//    "grouping": ["etat"], "parsers": true}            aggregation groupings, and whether a
//                                                      parser stage (| json, | logfmt...) runs
//
// Lezer parsers recover from syntax errors instead of stopping: a query that does not parse
// still yields a tree, with error nodes where tokens were skipped or missing. Any error node
// is the parse failure here. Only syntax is checked (no types: promtool does that for PromQL).
// The module resolves its imports from where it lies: npm-deps's folder, next to node_modules.
import readline from 'node:readline';

import {parser as logqlParser} from '@grafana/lezer-logql';
import {parser as promqlParser} from '@prometheus-io/lezer-promql';

function sorted(set) {
  return [...set].sort();
}

// "line 1, col 9" for an offset: dashboard queries may span lines.
function position(expr, offset) {
  const before = expr.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, col ${offset - before.lastIndexOf('\n')}`;
}

// The first error node, as a message, or null.
function syntaxError(tree, expr) {
  let error = null;
  tree.iterate({
    enter(node) {
      if (error) return false;
      if (node.type.isError) {
        const text = expr.slice(node.from, node.to);
        const rest = expr.slice(node.from, node.from + 20);
        error = `syntax error at ${position(expr, node.from)}: ` +
            (text ? `unexpected ${JSON.stringify(text)}` :
                    rest ? `something missing before ${JSON.stringify(rest)}` :
                           'unexpected end of query');
        return false;
      }
    },
  });
  return error;
}

// The value of a PromQL string literal ("..." or '...' with Go escapes, `...` raw), or null if
// it is not closed: lezer-promql's token accepts a string without its closing quote.
function promqlString(literal) {
  const quote = literal[0];
  if (quote === '`') {
    return literal.length >= 2 && literal.endsWith('`') ? literal.slice(1, -1) : null;
  }
  const escapes = {a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v'};
  let out = '';
  for (let i = 1; i < literal.length; i++) {
    const c = literal[i];
    if (c === quote) return i === literal.length - 1 ? out : null;
    if (c === '\\') {
      const next = literal[++i];
      out += escapes[next] ?? next ?? '';
    } else {
      out += c;
    }
  }
  return null;
}

function promql(expr) {
  const tree = promqlParser.parse(expr);
  const error = syntaxError(tree, expr);
  if (error) return {error};
  const text = (node) => expr.slice(node.from, node.to);
  const labelName = (node) =>  // LabelName, or QuotedLabelName around a StringLiteral
    node.name === 'QuotedLabelName' ? promqlString(text(node.firstChild)) : text(node);
  const selectors = [];
  const grouping = new Set();
  let unclosed = null;
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      if (node.name === 'StringLiteral' && promqlString(text(node)) === null) {
        unclosed ??= `syntax error at ${position(expr, node.from)}: unterminated string`;
      } else if (node.name === 'VectorSelector') {
        const sel = {name: '', labels: []};
        for (let child = node.firstChild; child; child = child.nextSibling) {
          if (child.name === 'Identifier') sel.name = text(child);
          if (child.name !== 'LabelMatchers') continue;
          for (let m = child.firstChild; m; m = m.nextSibling) {
            if (m.name === 'QuotedLabelName') {  // {"metric.name", ...}: the metric's name
              sel.name = labelName(m);
            } else if (m.name === 'UnquotedLabelMatcher' || m.name === 'QuotedLabelMatcher') {
              const name = labelName(m.firstChild);
              // As Prometheus's parser: __name__ names the metric, it is no label to check.
              if (name === '__name__') {
                sel.name = promqlString(text(m.lastChild)) ?? '';
              } else {
                sel.labels.push(name);
              }
            }
          }
        }
        selectors.push(sel);
      } else if (node.name === 'GroupingLabels') {
        // by/without of an aggregation, on/ignoring of a binary operation; not the labels of
        // group_left/group_right, which are copied from the other side, not matched on.
        const before = node.prevSibling?.name;
        if (['By', 'Without', 'On', 'Ignoring'].includes(before)) {
          for (let l = node.firstChild; l; l = l.nextSibling) {
            if (l.name === 'LabelName' || l.name === 'QuotedLabelName') grouping.add(labelName(l));
          }
        }
      }
    },
  });
  if (unclosed) return {error: unclosed};
  const result = {};
  if (selectors.length) result.selectors = selectors;
  if (grouping.size) result.grouping = sorted(grouping);
  return result;
}

// Pipeline stages that extract labels from the line: json, logfmt, regexp, pattern, unpack.
const LOGQL_PARSERS =
    new Set(['LabelParser', 'LogfmtParser', 'JsonExpressionParser', 'LogfmtExpressionParser']);

function logql(expr) {
  const tree = logqlParser.parse(expr);
  const error = syntaxError(tree, expr);
  if (error) return {error};
  const text = (node) => expr.slice(node.from, node.to);
  const stream = new Set();
  const grouping = new Set();
  let parsers = false;
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      if (node.name === 'Selector') {
        // Matcher nodes also make up label filters (| objet_name=~"..."), which test extracted
        // labels: only those inside the braces select streams.
        for (const m of node.getChildren('Matchers').flatMap((l) => items(l, 'Matcher'))) {
          stream.add(text(m.getChild('Identifier')));
        }
        return false;
      }
      if (node.name === 'Grouping') {  // by/without of a vector or range aggregation
        for (const labels of node.getChildren('Labels')) {
          for (const id of items(labels, 'Identifier')) grouping.add(text(id));
        }
      }
      if (LOGQL_PARSERS.has(node.name)) parsers = true;
    },
  });
  const result = {};
  if (stream.size) result.stream_labels = sorted(stream);
  if (grouping.size) result.grouping = sorted(grouping);
  if (parsers) result.parsers = true;
  return result;
}

// The items of a list node. The grammar nests lists to the left, a list node holding the list
// before it: Matchers(Matchers(Matcher), Matcher), Labels(Labels(Identifier), Identifier).
function items(list, item) {
  return [...list.getChildren(list.name).flatMap((inner) => items(inner, item)),
          ...list.getChildren(item)];
}

function check(line) {
  let query;
  try {
    query = JSON.parse(line);
  } catch (e) {
    return {error: `bad input line: ${e.message}`};
  }
  if (query?.lang === 'promql') return promql(String(query.expr));
  if (query?.lang === 'logql') return logql(String(query.expr));
  return {error: 'lang must be promql or logql'};
}

for await (const line of readline.createInterface({input: process.stdin, crlfDelay: Infinity})) {
  process.stdout.write(JSON.stringify(check(line)) + '\n');
}
