"""`make build`'s export slimming (tools/slim_module.py): the built module exports exactly the keep-list,
and the keep-list cannot drift from the callbacks the shell implements."""

import pytest

from tools import slim_module


def test_the_built_module_exports_exactly_the_keep_list(module):
    with open(module, "rb") as f:
        exported = slim_module.exports(f.read())
    assert sorted(exported) == sorted(slim_module.keep_list())
    # What the request path needs from the ABI, and nothing Envoy would call for bodies, trailers or logs.
    assert {
        "proxy_on_request_headers",
        "proxy_on_response_headers",
        "proxy_on_memory_allocate",
        "proxy_on_delete",
    } <= set(exported)
    assert not {"proxy_on_request_body", "proxy_on_response_body", "proxy_on_log", "proxy_on_done"} & set(exported)


def test_the_keep_list_matches_the_shell():
    slim_module.check_against_shell(slim_module.keep_list(), slim_module.shell_callbacks())


def test_a_callback_the_shell_implements_must_be_kept_and_a_kept_one_implemented():
    kept = {"memory": None, "proxy_on_request_headers": "on_http_request_headers"}
    with pytest.raises(slim_module.SlimError, match="implements on_tick but"):
        slim_module.check_against_shell(kept, {"on_http_request_headers", "on_tick"})
    with pytest.raises(slim_module.SlimError, match="keeps the export of on_http_request_headers"):
        slim_module.check_against_shell(kept, set())


def test_keep_list_lines(tmp_path):
    listed = tmp_path / "exports.txt"
    listed.write_text("# comment\nmemory\n\nproxy_on_tick on_tick  # the rollout clock\n")
    assert slim_module.keep_list(str(listed)) == {"memory": None, "proxy_on_tick": "on_tick"}
    listed.write_text("proxy_on_tick on_tick extra\n")
    with pytest.raises(slim_module.SlimError, match="expected `export \\[method\\]`"):
        slim_module.keep_list(str(listed))
