"""Reads a stream of YAML documents on stdin (as PyYAML, a YAML 1.1 reader,
sees them) and writes them as a Lua expression: a list of tables. Strings
stay strings, so a value that the writer forgot to quote ("on", "0755")
shows up as the boolean or number it became. YAML null is written as the
Lua string "<null>"."""
import sys

import yaml


def lua(v):
    if v is None:
        return '"<null>"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        out = []
        for b in v.encode("utf-8"):
            c = chr(b)
            if 32 <= b < 127 and c not in '"\\':
                out.append(c)
            else:
                out.append("\\%03d" % b)
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("[%s] = %s" % (lua(k), lua(x)) for k, x in v.items()) + "}"
    raise SystemExit("unexpected YAML value of type %s" % type(v).__name__)


docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
sys.stdout.write("return {" + ", ".join(lua(d) for d in docs) + "}\n")
