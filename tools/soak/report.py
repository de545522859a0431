"""The soak's numbers as a few lines of text (the JSON report holds everything)."""


def text(report: dict) -> str:
    lines = []
    steady = report.get("steady")
    if steady:
        slopes = steady["slopes_mib_per_100k"]
        lines.append(
            "steady: %d requests in %.0fs (%d/s; %s), %d failed; RSS %s MiB; after warm-up, MiB per 100k "
            "requests: RSS %+.3f, tcmalloc %+.3f, Wasm linear memory %+.3f (%d VMs, %.2f MiB, grew %d KiB)"
            % (
                steady["requests"],
                steady["seconds"],
                steady["rps"],
                ", ".join("%s %d" % (p, v["requests"]) for p, v in steady["by_protocol"].items()),
                steady["failed"],
                " -> ".join(map(str, steady["rss_mib"])),
                slopes["rss"],
                slopes["allocated"],
                slopes["wasm_size"],
                steady["vms"],
                steady["wasm_mib"] or 0,
                steady["wasm_growth_kib"],
            )
        )
    storm = report.get("storm")
    if storm:
        lines.append(
            "storm: %d pushes (%d accepted, %d refused) under %d requests (%s), %d failed; ECDS accept "
            "ms %s; in force on every probe (%s) ms %s; RSS %s MiB (%+.4f MiB per push), tcmalloc %s MiB, "
            "Wasm %s MiB, VMs %s"
            % (
                storm["pushes"],
                storm["accepted"],
                storm["refused"],
                storm["requests"],
                ", ".join("%s %d" % kv for kv in storm["by_protocol"].items()),
                storm["failed"],
                storm["ecds_ms"],
                ", ".join(storm["probes"]),
                storm["in_force_ms"],
                " -> ".join(map(str, storm["rss_mib"])),
                storm["mib_per_push"],
                " -> ".join(map(str, storm["allocated_mib"])),
                " -> ".join(map(str, storm["wasm_mib"])),
                " -> ".join(map(str, storm["vms"])),
            )
        )
    resident = report.get("resident", {})
    for label, stage in zip(("with", "after pushing", "after pushing back to"), resident.get("stages", [])):
        lines.append(
            "resident %s %d entries: RSS %.1f MiB, tcmalloc %.1f MiB, Wasm linear memory %.2f MiB "
            "(%.2f resident, %d VMs)"
            % (
                label,
                stage["entries"],
                stage["rss_mib"],
                stage["allocated_mib"],
                stage["wasm_mib"],
                stage["wasm_rss_mib"],
                stage["vms"],
            )
        )
    if "kept_mib" in resident:
        kept = resident["kept_mib"]
        lines.append(
            "resident, kept after pushing back: RSS %+.1f MiB, tcmalloc %+.1f MiB, Wasm linear memory "
            "%+.2f MiB (%+.2f resident)"
            % (kept["rss_mib"], kept["allocated_mib"], kept["wasm_mib"], kept["wasm_rss_mib"])
        )
    for row in report.get("scale", {}).get("rows", []):
        lines.append("scale: " + ", ".join("%s %s" % kv for kv in row.items()))
    for row in report.get("scale", {}).get("refusals", []):
        lines.append("refused: " + ", ".join("%s %s" % kv for kv in row.items()))
    return "\n".join(lines)
