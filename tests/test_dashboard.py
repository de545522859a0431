"""The Grafana dashboard (filter-config/grafana/traffic-shift.json) asks only for what the filter
exports: every PromQL expression parses, and names only metrics and labels listed in filter-config/metrics.json
(the list src/stat_name.rs and the Envoy/Istio configs are held to)."""

import json
import os
import re

import promql_parser
import pytest

from tools import envoylab as lab

METRICS = lab.metrics.METRICS
DASHBOARD = os.path.join(os.path.dirname(lab.metrics.METRICS_JSON), "grafana", "traffic-shift.json")
# Grafana's own variables, replaced by sample values so that Prometheus' parser sees a real query.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "30s", "__range": "1h"}
SAMPLE_VALUE = {"query": ".*", "datasource": "prometheus"}  # a template variable's value, by its type


with open(DASHBOARD) as _f:
    BOARD = json.load(_f)


def panels(board: dict) -> list:
    """Every panel, those inside rows included."""
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def expressions() -> list:
    return [
        (panel["title"], target) for panel in panels(BOARD) if panel["type"] != "row" for target in panel["targets"]
    ]


def substituted(expr: str) -> str:
    values = dict(GRAFANA_VARIABLES)
    values.update({v["name"]: SAMPLE_VALUE[v["type"]] for v in BOARD["templating"]["list"]})

    def value(match):
        name = match.group(1) or match.group(2)
        assert name in values, "unknown dashboard variable $%s" % name
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def names_in(expr) -> tuple:
    """(metric names selected, label names the expression relies on) of a parsed PromQL expression."""
    metrics, labels = set(), set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            metrics.add(node.name)
            labels.update(m.name for m in node.matchers.matchers)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                labels.update(node.modifier.matching.labels)
            labels.update(node.modifier.group_labels or ())

    promql_parser.walk(expr, visit)
    return metrics, labels


def test_dashboard_is_a_grafana_dashboard():
    assert BOARD["uid"] and BOARD["title"] and BOARD["schemaVersion"] >= 36
    ids = [panel["id"] for panel in panels(BOARD)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(BOARD):
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("title, target", expressions(), ids=[t for t, _ in expressions()])
def test_every_expression_names_only_exported_metrics_and_their_labels(title, target):
    metrics, labels = names_in(promql_parser.parse(substituted(target["expr"])))
    assert metrics and metrics <= set(METRICS), "%s: %s" % (title, sorted(metrics - set(METRICS)))
    exported_labels = {label for name in metrics for label in METRICS[name]["labels"]}
    assert labels <= exported_labels, "%s: labels %s not exported" % (title, sorted(labels - exported_labels))
    legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
    assert legend_labels <= labels, "%s: the legend names labels the query drops" % title


def test_every_exported_metric_has_a_panel():
    shown = set()
    for _, target in expressions():
        shown |= names_in(promql_parser.parse(substituted(target["expr"])))[0]
    assert shown == set(METRICS)


def test_template_variables_read_exported_labels():
    queries = [v for v in BOARD["templating"]["list"] if v["type"] == "query"]
    assert queries
    for variable in queries:
        metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"]).groups()
        assert label in METRICS[metric]["labels"], variable["name"]


def test_the_checks_refuse_what_the_filter_does_not_export():
    """The checks above can fail: an old-style name and an unknown label are caught."""
    old_name = names_in(promql_parser.parse("rate(envoy_wasmcustom_traffic_shift_reviews_requests[1m])"))[0]
    assert not old_name <= set(METRICS)
    _, labels = names_in(promql_parser.parse("sum by (destination_version) (rate(%s[1m]))" % lab.metrics.REQUESTS))
    assert "destination_version" in labels and not labels <= set(METRICS[lab.metrics.REQUESTS]["labels"])
