//! One configuration per shape that uses every feature the request path has: hosts, each match kind (regex
//! too), sticky header and cookie, zero and maximal weights. The request target decides against both, and
//! the structured config target mutates both.

/// Header names the request target fills from fuzz input, in input order (route name comes last).
pub const REQUEST_HEADERS: [&str; 10] = [
    ":path",
    ":authority",
    ":method",
    ":scheme",
    "end-user",
    "x-canary",
    "x-debug",
    "x-user-id",
    "cookie",
    "x-traffic-shift-cluster",
];

pub const RICH_CONFIG: &str = r#"{
  "clusterHeader": "x-traffic-shift-cluster",
  "clusterName": "outbound|{port}|{subset}|{host}",
  "responseHeader": "x-traffic-shift-destination",
  "hosts": ["reviews", "reviews.prod.svc.cluster.local", "*.example.com", "[::1]"],
  "http": [
    { "name": "jason-or-canary-query",
      "match": [
        { "name": "jason", "headers": { "end-user": { "exact": "jason" } }, "uri": { "prefix": "/reviews" } },
        { "queryParams": { "canary": { "exact": "1" }, "flag": {} } }
      ],
      "route": [ { "destination": { "host": "reviews", "subset": "v3", "port": { "number": 9080 } } } ] },
    { "name": "api-post-ignoring-case",
      "match": [ { "uri": { "exact": "/API/v1" }, "ignoreUriCase": true,
                   "method": { "exact": "POST" }, "scheme": { "prefix": "http" } } ],
      "route": [
        { "destination": { "host": "reviews", "subset": "v1", "port": { "number": 1 } }, "weight": 1 },
        { "destination": { "host": "reviews", "subset": "v2", "port": { "number": 65535 } }, "weight": 3 } ] },
    { "name": "canary-header-sticky",
      "match": [ { "headers": { "x-canary": {} }, "withoutHeaders": { "x-debug": { "prefix": "off" } } } ],
      "sticky": { "header": "x-user-id" },
      "route": [
        { "destination": { "host": "reviews", "subset": "v1" }, "weight": 0 },
        { "destination": { "host": "reviews", "subset": "v2" }, "weight": 1 },
        { "destination": { "host": "reviews", "subset": "v3" }, "weight": 2147483647 } ] },
    { "name": "named-route-cookie",
      "match": [ { "routeName": { "exact": "shift" }, "authority": { "prefix": "reviews" },
                   "withoutHeaders": { "x-debug": {} } } ],
      "sticky": { "cookie": "user" },
      "route": [
        { "destination": { "host": "reviews.default.svc.cluster.local", "subset": "v1", "port": { "number": 9080 } }, "weight": 20 },
        { "destination": { "host": "reviews.default.svc.cluster.local", "subset": "v2", "port": { "number": 9080 } }, "weight": 30 },
        { "destination": { "host": "reviews.default.svc.cluster.local", "subset": "v3", "port": { "number": 9080 } }, "weight": 50 } ] },
    { "name": "regex-paths-or-users",
      "match": [ { "uri": { "regex": "/reviews/[0-9]+" }, "ignoreUriCase": true },
                 { "headers": { "end-user": { "regex": "(?:.*a){3}b" } } } ],
      "route": [
        { "destination": { "host": "reviews", "subset": "v2", "port": { "number": 9080 } }, "weight": 1 },
        { "destination": { "host": "reviews", "subset": "v3", "port": { "number": 9080 } }, "weight": 2 } ] },
    { "name": "everyone-else",
      "sticky": { "cookie": "user" },
      "route": [
        { "destination": { "host": "reviews", "subset": "v1", "port": { "number": 9080 } }, "weight": 50 },
        { "destination": { "host": "reviews", "subset": "v3", "port": { "number": 9080 } }, "weight": 50 } ] }
  ]
}"#;

/// The HTTPRoute shape (`rules`), with every Gateway API match kind and the extensions it carries.
/// Precedence ranks a `RegularExpression` path after every prefix, so the catch-all takes only GETs:
/// other methods can reach `regex-paths`.
pub const RICH_GATEWAY_CONFIG: &str = r#"{
  "clusterHeader": "x-traffic-shift-cluster",
  "responseHeader": "x-traffic-shift-destination",
  "namespace": "prod",
  "parentRefs": [ { "group": "", "kind": "Service", "name": "reviews", "port": 9080 } ],
  "hostnames": ["reviews", "reviews.prod.svc.cluster.local", "*.example.com", "[::1]"],
  "rules": [
    { "name": "jason-or-canary-query",
      "matches": [
        { "path": { "type": "PathPrefix", "value": "/reviews/" },
          "headers": [ { "name": "End-User", "value": "jason" } ] },
        { "queryParams": [ { "name": "canary", "value": "1" }, { "name": "flag", "type": "RegularExpression", "value": ".*" } ] }
      ],
      "backendRefs": [ { "name": "reviews-v3", "port": 9080 } ] },
    { "name": "api-post",
      "matches": [ { "path": { "type": "Exact", "value": "/api/v1" }, "method": "POST" } ],
      "backendRefs": [
        { "name": "reviews-v1", "port": 1, "weight": 1 },
        { "group": "", "kind": "Service", "name": "reviews-v2", "namespace": "canary", "port": 65535, "weight": 3 } ] },
    { "name": "canary-header-sticky",
      "matches": [ { "headers": [ { "name": "x-canary", "type": "RegularExpression", "value": "1?" } ] } ],
      "sticky": { "header": "x-user-id" },
      "backendRefs": [
        { "name": "reviews-v1", "port": 9080, "weight": 0 },
        { "name": "reviews-v2", "port": 9080 },
        { "name": "reviews-v3", "port": 9080, "weight": 1000000 } ] },
    { "name": "regex-paths",
      "matches": [ { "path": { "type": "RegularExpression", "value": "/(?i:reviews)/[0-9]+" } } ],
      "backendRefs": [ { "name": "reviews-v2", "port": 9080, "weight": 1 }, { "name": "reviews-v3", "port": 9080, "weight": 2 } ] },
    { "name": "everyone-else",
      "matches": [ { "path": { "value": "/" }, "method": "GET" } ],
      "sticky": { "cookie": "user" },
      "backendRefs": [ { "name": "reviews-v1", "port": 9080, "weight": 50 }, { "name": "reviews-v3", "port": 9080, "weight": 50 } ] }
  ]
}"#;
