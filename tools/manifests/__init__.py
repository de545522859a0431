"""Deployment kit tooling: generate filter-config/'s YAML from the plugin JSON stages, validate Istio
manifests against Istio's CRD schemas, and build the OCI image Istio's WasmPlugin pulls."""
