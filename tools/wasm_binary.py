"""Reading a Wasm binary's sections (the module format's own layout), for the build's export slimming and the
bench's memory breakdown. Standard library only: `make build` runs it with the system Python."""


class WasmError(Exception):
    pass


def leb128(data: bytes, at: int) -> tuple:
    """The unsigned LEB128 number at `at`, and where the next field starts."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def section(module: bytes, section_id: int):
    """Where the contents of the module's section `section_id` start (7 exports, 10 code), or None."""
    if module[:4] != b"\0asm":
        raise WasmError("not a Wasm module")
    at = 8
    while at < len(module):
        current, at = module[at], at + 1
        size, at = leb128(module, at)
        if current == section_id:
            return at
        at += size
    return None


def function_sizes(module: bytes) -> list:
    """The body size in bytes of every function the module defines (its code section)."""
    at = section(module, 10)
    if at is None:
        return []
    count, at = leb128(module, at)
    sizes = []
    for _ in range(count):
        body, at = leb128(module, at)
        sizes.append(body)
        at += body
    return sizes


def export_names(module: bytes) -> list:
    """The export names of the module (its export section)."""
    at = section(module, 7)
    if at is None:
        return []
    count, at = leb128(module, at)
    names = []
    for _ in range(count):
        length, at = leb128(module, at)
        names.append(module[at : at + length].decode())
        at += length + 1  # the export kind
        _, at = leb128(module, at)  # its index
    return names
