-- What bench/plugin_configs.py's REALISTIC asks, written as a careful user would for Envoy's Lua filter
-- (the `lua` listener of `make bench`): the hosts check, the same header and path checks in the same
-- order, the same 50/50 choice, and the cluster header set for a `cluster_header` route.
local V1 = "outbound|9080|v1|reviews.default.svc.cluster.local"
local V2 = "outbound|9080|v2|reviews.default.svc.cluster.local"
local V3 = "outbound|9080|v3|reviews.default.svc.cluster.local"
local CLUSTER_HEADER = "x-traffic-shift-cluster"
-- hosts: ["reviews"]: the service under any of its Kubernetes names, on any port.
local REVIEWS = {
  ["reviews"] = true, ["reviews.default"] = true, ["reviews.default.svc"] = true,
  ["reviews.default.svc.cluster.local"] = true,
}

local function cluster_for(headers)
  if headers:get("end-user") == "jason" then
    return V2
  end
  local uri = string.match(headers:get(":path") or "", "^[^?#]*")
  if (headers:get("x-canary") == "always" and string.sub(uri, 1, 9) == "/reviews/")
      or headers:get("x-canary-group") ~= nil then
    return V3
  end
  if string.sub(uri, 1, 6) == "/admin" or (uri == "/reviews/debug" and headers:get(":method") == "POST") then
    return V1
  end
  if math.random() < 0.5 then
    return V1
  end
  return V3
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local host = string.lower(string.match(headers:get(":authority") or "", "^[^:]*"))
  if REVIEWS[host] then
    headers:replace(CLUSTER_HEADER, cluster_for(headers))
  else
    headers:remove(CLUSTER_HEADER) -- a client never picks the upstream
  end
end
