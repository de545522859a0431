"""The CEL rules (x-kubernetes-validations) that Istio's CRDs attach to WasmPlugin, EnvoyFilter,
VirtualService and DestinationRule, each translated by hand into Python.

A CEL interpreter would be a new dependency for eleven distinct rules, so each rule's text maps to an
equivalent function. A rule not in the table is never treated as satisfied: the validator reports it as
"not evaluated", so a manifest that reaches an untranslated rule fails loudly instead of passing.
"""
import re


def normalize(rule: str) -> str:
    return " ".join(rule.split())


def _present(obj, *keys) -> int:
    return sum(1 for key in keys if isinstance(obj, dict) and key in obj)


# ---- Go's url.ParseRequestURI, which Kubernetes' CEL isURL() and url() use ----------------------------------

_HOST_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]<>\"")


def _scheme(raw: str):
    """(scheme, rest) as Go's getScheme splits them; scheme '' when there is none; None on error."""
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            return (None, None) if i == 0 else (raw[:i].lower(), raw[i + 1:])
        return "", raw
    return "", raw


def _escapes_ok(text: str) -> bool:
    return re.search(r"%(?![0-9A-Fa-f]{2})", text) is None


def request_uri_scheme(raw: str):
    """The scheme of raw if url.ParseRequestURI accepts it, else None."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return None
    scheme, rest = _scheme(raw)
    if scheme is None:
        return None
    rest = rest.split("?", 1)[0]
    if not rest.startswith("/"):
        return scheme if scheme else None  # opaque form needs a scheme; a request URI needs a leading /
    if scheme and rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            if "]" not in host or not re.fullmatch(r"(:[0-9]*)?", host[host.index("]") + 1:]):
                return None
        elif ":" in host and not re.fullmatch(r"[0-9]*", host.rpartition(":")[2]):
            return None
        if not all(c in _HOST_OK or not c.isascii() for c in host) or not _escapes_ok(host):
            return None
        rest = "/" + path
    return scheme if _escapes_ok(rest) else None


def _url_rule(value) -> bool:
    allowed = ("", "http", "https", "oci", "file")
    scheme = request_uri_scheme(value)
    if scheme is not None:
        return scheme in allowed
    return request_uri_scheme("http://" + value) in allowed


# ---- Go's time.ParseDuration, which Kubernetes' CEL duration() uses -------------------------------------------

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text[1:] if text[:1] == "+" else text)
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError("invalid duration %r" % text)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise ValueError("invalid duration %r" % text)
    return sign * total


def _at_least_1ms(value) -> bool:
    try:
        return go_duration_seconds(value) >= 1e-3
    except ValueError:
        return False


# ---- The table --------------------------------------------------------------------------------------------------

RULES = {normalize(rule): check for rule, check in {
    '(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1':
        lambda s: _present(s, "selector", "targetRef", "targetRefs") <= 1,
    '(has(self.workloadSelector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1':
        lambda s: _present(s, "workloadSelector", "targetRefs") <= 1,
    'self.all(key, !key.contains("*"))': lambda s: all("*" not in key for key in s),
    'self.all(key, key.size() != 0)': lambda s: all(len(key) != 0 for key in s),
    '!self.contains("*")': lambda s: "*" not in s,
    'self.size() == 0': lambda s: len(s) == 0,
    'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) && '
    'url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])': _url_rule,
    '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)':
        lambda s: s.get("valueFrom", "") != "HOST" or "value" not in s,
    "duration(self) >= duration('1ms')": _at_least_1ms,
    'has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : '
    '!has(self.waypoint)':
        lambda s: ("waypoint" in s) if s.get("context") == "WAYPOINT" else ("waypoint" not in s),
    '0 < self && self <= 65535': lambda s: 0 < s <= 65535,
}.items()}


def evaluate(rule: str, value):
    """True/False for a known rule; None when the rule is not in the table (never a silent pass)."""
    check = RULES.get(normalize(rule))
    return None if check is None else bool(check(value))
